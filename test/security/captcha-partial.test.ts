// views/partials/captcha.ejs, the CAPTCHA part of the recovery form, rendered as the recovery page will include it:
// every control named (for screen readers and for tests, by message id), the fields a browser should not
// autocorrect or remember, and nothing unescaped.
import { describe, expect, it } from '@jest/globals';
import ejs from 'ejs';
import { join } from 'node:path';
import { durationText, translator } from '../../src/http/i18n.ts';
import { VIEWS_DIR } from '../../src/http/render.ts';

const ID = 'AbCdEfGhIjKlMnOpQrStUv';

function render(locals: Record<string, unknown>, locale = 'en'): Promise<string> {
  const page = { t: translator(locale), duration: (seconds: number) => durationText(seconds, locale), locale, nonce: 'N0nce', waitSeconds: 30 };
  return ejs.renderFile(join(VIEWS_DIR, 'partials/captcha.ejs'), { ...page, ...locals }, { async: true });
}

/** The opening tag of the element with this id. */
function tag(html: string, id: string): string {
  const found = new RegExp(`<[a-z]+\\b[^>]*\\bid="${id}"[^>]*>`, 's').exec(html)?.[0];
  if (!found) throw new Error(`no element with id ${id} in:\n${html}`);
  return found.replace(/\s+/g, ' ');
}

describe('the CAPTCHA partial', () => {
  it('shows the picture from our route, named by its alt text', async () => {
    const img = tag(await render({ captchaId: ID }), 'captcha-picture');
    expect(img).toMatch(/^<img /);
    expect(img).toContain(`src="/recover/captcha/${ID}.svg"`);
    expect(img).toContain('alt="Picture of the characters to enter"');
    expect(img).toContain('data-message-id="captcha.picture"');
  });

  it('has a "New picture" button that submits without validating the form', async () => {
    const html = await render({ captchaId: ID });
    const button = /<button\b[^>]*>([^<]*)<\/button>/s.exec(html)!;
    expect(button[0]).toContain('type="submit"');
    expect(button[0]).toContain('name="action" value="new-captcha"');
    expect(button[0]).toMatch(/\sformnovalidate[\s>]/);
    expect(button[0]).toContain('data-message-id="captcha.new_picture"');
    expect(button[1]).toBe('New picture');
  });

  it('offers the audio from our route, loaded only when played, with a label', async () => {
    const html = await render({ captchaId: ID });
    const audio = tag(html, 'captcha-audio');
    expect(audio).toMatch(/^<audio /);
    expect(audio).toContain(`src="/recover/captcha/${ID}.wav?ui_locales=en"`); // in the page's language
    expect(audio).toMatch(/\scontrols[\s>]/);
    expect(audio).toContain('preload="none"');
    const labelId = /aria-labelledby="([^"]+)"/.exec(audio)![1]!;
    expect(html).toMatch(new RegExp(`id="${labelId}"[^>]*>Play the characters as audio<`));
  });

  it('has an answer field with its label, not autocompleted, autocapitalised or spell-checked, and not required (empty is the wait)', async () => {
    const html = await render({ captchaId: ID });
    const input = tag(html, 'captcha');
    for (const attribute of ['name="captcha"', 'type="text"', 'autocomplete="off"', 'autocapitalize="off"', 'spellcheck="false"']) {
      expect(input).toContain(attribute);
    }
    expect(input).not.toMatch(/\srequired[\s>]/);
    expect(input).not.toContain('value=');
    expect(input).not.toContain('aria-invalid');
    expect(html).toMatch(/<label for="captcha" data-message-id="captcha.answer">Enter the characters you see in the picture or hear in the audio<\/label>/);
    expect(input).toContain('aria-describedby="captcha-hint captcha-wait"');
  });

  it('says the field may be left empty once the wait is over, and how long is left', async () => {
    const waiting = await render({ captchaId: ID, waitSeconds: 17 });
    expect(tag(waiting, 'captcha-wait')).toContain('data-message-id="captcha.wait_note"');
    expect(waiting).toContain('Leave this field empty: you can go on without them in <span id="captcha-wait-time">17 seconds</span>.</p>');
    const over = await render({ captchaId: ID, waitSeconds: 0 });
    expect(tag(over, 'captcha-wait')).toContain('data-message-id="captcha.wait_ready"');
    expect(over).toContain('You can go on without the characters now: leave this field empty.</p>');
    // The countdown runs under the page's CSP nonce; its end is announced once, in a status region.
    expect(waiting).toContain('<script nonce="N0nce">');
    expect(tag(waiting, 'captcha-wait-over')).toContain('role="status"');
    // Intl writes a French number and its unit with a no-break space.
    expect(await render({ captchaId: ID, waitSeconds: 17 }, 'fr')).toMatch(/vous pourrez continuer sans les caractères dans <span id="captcha-wait-time">17\s+secondes<\/span>\.<\/p>/u);
  });

  it('marks the field invalid and describes it with the error it is given', async () => {
    const html = await render({ captchaId: ID, captchaError: 'recover.captcha_wrong' });
    const input = tag(html, 'captcha');
    expect(input).toContain('aria-invalid="true"');
    expect(input).toContain('aria-describedby="captcha-error captcha-hint captcha-wait"');
    expect(tag(html, 'captcha-error')).toContain('data-message-id="recover.captcha_wrong"');
    const early = await render({ captchaId: ID, waitSeconds: 12, captchaError: 'recover.captcha_wait_early' });
    // The time counts down in an element of its own, and the error goes once the wait is over (data-ends-with-wait).
    expect(tag(early, 'captcha-error')).toContain('data-ends-with-wait');
    expect(early).toContain('Enter them, or wait <span class="captcha-wait-left">12 seconds</span> and select Next again.</p>');
  });

  it('speaks French on French pages, with every message translated', async () => {
    const html = await render({ captchaId: ID }, 'fr');
    expect(html).toContain('alt="Image des caractères à saisir"');
    expect(html).toContain('>Nouvelle image</button>');
    expect(html).toContain('>Écouter les caractères</label>');
    expect(tag(html, 'captcha-audio')).toContain(`src="/recover/captcha/${ID}.wav?ui_locales=fr"`); // read out in French
    expect(html).toContain('Saisissez les caractères que vous voyez dans l’image ou entendez dans l’audio</label>');
    // A missing message would show as its id.
    const text = html.replace(/<script[^>]*>.*?<\/script>/s, ' ').replace(/<[^>]*>/g, ' ');
    expect(text).not.toMatch(/captcha\.[a-z_]+/);
  });

  it('escapes what it is given', async () => {
    const html = await render({ captchaId: '"><script>x</script>' });
    expect(html).not.toContain('<script>x');
    expect(html).toContain('&#34;&gt;&lt;script&gt;');
  });
});
