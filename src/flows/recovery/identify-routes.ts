// The recovery's first page, "Who are you?": an identifier and the CAPTCHA (or its wait) start a flow, for an account
// or for a decoy that looks and costs the same (subject.ts), so the page tells nobody which logins exist.
import type Router from '@koa/router';
import { z } from 'zod';
import { NO_ACCOUNT_ID } from '../../accounts/users.ts';
import type { MessageId } from '../../http/messages/en.ts';
import { supportedUiLocale } from '../../http/i18n.ts';
import type { AppContext } from '../../http/context.ts';
import type { CaptchaRefusal } from '../../security/captcha-gate.ts';
import type { FlowKit } from './flow-kit.ts';
import { fromOf, isOrigin, originFrom } from './origin.ts';
import { loginOfferedBy, MAX_LOGIN_LENGTH, offerLoginToSignIn, withdrawLoginOffer } from './prefill.ts';
import type { RecoveryDeps } from './routes.ts';
import { resolveSubject } from './subject.ts';

/** What the first page says when its CAPTCHA did not let the identifier through. */
const CAPTCHA_ERRORS: Record<CaptchaRefusal, MessageId> = {
  wrong: 'recover.captcha_wrong',
  stale: 'recover.captcha_stale',
  early: 'recover.captcha_wait_early',
  used_up: 'recover.captcha_wait_used_up',
};

const identifyForm = z.object({
  csrf: z.string(),
  action: z.enum(['next', 'new-captcha']).default('next'),
  identifier: z.string().trim().max(MAX_LOGIN_LENGTH).default(''),
  captchaId: z.string().max(64).default(''),
  captcha: z.string().max(64).default(''),
  // Where the recovery began (origin.ts); a value that names nowhere we know is a malformed form.
  from: z
    .string()
    .refine((value) => value === '' || isOrigin(value))
    .default(''),
  ui_locales: z.string().max(64).optional(),
});

export function identifyRoutes(router: Router, kit: FlowKit, deps: RecoveryDeps): void {
  const { config, accounts, policy, methods, flows, limits, captcha } = deps;
  const { readValid, speakAsSignIn, showIdentify, record, recordRefusal, message, seeFlow, supportCodeOf, keepFlowInCookie } = kit;

  // `ui_locales`: the sign-in's language (interactions/routes.ts), which request-context applies to this page; the
  // form carries it to the flow.
  router.get('/', async (ctx) => {
    const origin = originFrom(ctx.query.from);
    const uiLocale = supportedUiLocale(typeof ctx.query.ui_locales === 'string' ? ctx.query.ui_locales : undefined);
    const identifier = loginOfferedBy(ctx, fromOf(origin), config.cookieSecure);
    await showIdentify(ctx, { ...(identifier && { identifier }), origin, ...(uiLocale && { uiLocale }) });
  });

  router.post('/', async (ctx) => {
    const form = await readValid(ctx, identifyForm, 'recovery:start');
    const origin = originFrom(form.from);
    const uiLocale = supportedUiLocale(form.ui_locales);
    speakAsSignIn(ctx, uiLocale);
    const started = { origin, ...(uiLocale && { uiLocale }) };
    if (form.action === 'new-captcha') return showIdentify(ctx, { identifier: form.identifier, ...started });
    if (!form.identifier) return showIdentify(ctx, { ...started, error: 'recover.identifier_missing' });
    // The CAPTCHA first: only a start it lets through counts against the address's budget, so a wrong answer or a
    // wait left too early (anyone's, from a shared address) spends none of it.
    const outcome = await captcha.pass(form.captchaId, form.captcha, ctx.ip);
    if (!outcome.passed) {
      await recordRefusal(ctx, { type: 'recovery.failed', reason: `captcha_${outcome.reason}` });
      const kept = 'keep' in outcome ? { captchaId: outcome.keep } : {};
      return showIdentify(ctx, { identifier: form.identifier, ...started, ...kept, error: CAPTCHA_ERRORS[outcome.reason] });
    }
    const current = await policy.current();
    if (!(await limits.allowFlowStart(ctx.ip, current))) {
      await recordRefusal(ctx, { type: 'recovery.blocked', reason: 'limit_flow_ip' });
      return message(ctx, 'recover.too_many', 429, { ...origin, ...(uiLocale && { uiLocale }) });
    }
    const key = deps.subjectKey(form.identifier);
    // The same reads for a known and an unknown identifier: the user lookup, then the account document.
    const user = (await accounts.findByLogin(form.identifier)) ?? (await accounts.findById(NO_ACCOUNT_ID));
    const subject = resolveSubject(user, key, methods, current);
    const { flow, secret } = await flows.create({
      ...(subject.user && { accountId: subject.user._id }),
      subjectKey: key.toString('hex'),
      required: subject.required,
      ...origin,
      ...(uiLocale && { uiLocale }),
    });
    keepFlowInCookie(ctx, flow, secret);
    withdrawLoginOffer(ctx, config.cookieSecure);
    offerLoginToSignIn(ctx, origin, form.identifier, config.cookieSecure, config.ttl.interaction * 1000);
    (ctx as AppContext).state.supportCode = supportCodeOf(flow._id);
    await record(ctx, { type: 'recovery.started', ...(subject.user && { accountId: subject.user._id }), flowId: flow._id, reason: subject.user ? 'account' : 'decoy' });
    seeFlow(ctx, flow);
  });
}
