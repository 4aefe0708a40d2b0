// Chooses the page language (ui_locales first, then Accept-Language) and looks messages up by id.
import { en, type Catalogue, type MessageId } from './messages/en.ts';
import { fr } from './messages/fr.ts';

/** One file per language in messages/; adding a language is adding its file here. */
const catalogues: Record<string, Catalogue> = { en, fr };
export const DEFAULT_LOCALE = 'en';
export const SUPPORTED_LOCALES = Object.keys(catalogues);

export type Translate = (id: MessageId, values?: Record<string, string | number>) => string;

/** The first supported language of a space-separated ui_locales value or an Accept-Language header. */
export function chooseLocale(uiLocales: string | undefined, acceptLanguage: string | undefined): string {
  const wanted = [
    ...(uiLocales ?? '').split(/\s+/),
    ...(acceptLanguage ?? '')
      .split(',')
      .map((part) => {
        const [tag = '', ...params] = part.trim().split(';');
        const q = Number(params.find((p) => p.trim().startsWith('q='))?.trim().slice(2) ?? 1);
        return { tag, q: Number.isNaN(q) ? 0 : q };
      })
      .filter((entry) => entry.q > 0)
      .sort((a, b) => b.q - a.q)
      .map((entry) => entry.tag),
  ];
  return firstSupported(wanted) ?? DEFAULT_LOCALE;
}

function firstSupported(tags: string[]): string | undefined {
  for (const tag of tags) {
    const lower = tag.toLowerCase();
    if (Object.hasOwn(catalogues, lower)) return lower;
    const base = lower.split('-')[0]!;
    if (Object.hasOwn(catalogues, base)) return base;
  }
  return undefined;
}

/**
 * The language a ui_locales value asks for that we have ("fr-CA en" → "fr"), or undefined when it asks for none:
 * in place of the whole value it chooses the same page language (Accept-Language decides in both cases otherwise).
 */
export function supportedUiLocale(uiLocales: string | undefined): string | undefined {
  return firstSupported((uiLocales ?? '').split(/\s+/));
}

/**
 * A code's lifetime as people read it, in `locale`: whole minutes, rounded down (never more time than there is), or
 * seconds under a minute ("10 minutes", "1 minute", "30 seconds").
 */
export function durationText(seconds: number, locale: string): string {
  const [value, unit] = seconds >= 60 ? [Math.floor(seconds / 60), 'minute'] : [seconds, 'second'];
  return new Intl.NumberFormat(locale, { style: 'unit', unit, unitDisplay: 'long' }).format(value);
}

export function translator(locale: string): Translate {
  const catalogue = Object.hasOwn(catalogues, locale) ? catalogues[locale]! : en;
  return (id, values = {}) =>
    (catalogue[id] ?? en[id] ?? id).replace(/\{(\w+)\}/g, (whole, key: string) => (Object.hasOwn(values, key) ? String(values[key]) : whole));
}
