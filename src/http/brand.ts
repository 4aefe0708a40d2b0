// The operator's brand: product name, logo, accent colour and links, set in configuration and applied to every
// page (views/layout.ejs). The accent colour is checked before start: buttons put white text on it and links put it
// on the card and the page background, so anything under WCAG AA's 4.5:1 against those is refused.
export interface Brand {
  name: string;
  /** An image URL (https:, or a path on this server); the built-in logo when absent. */
  logoUrl: string | undefined;
  /** #rrggbb */
  accent: string;
  helpUrl: string | undefined;
  /**
   * The organisation's own start page (a portal, an intranet): where recovery pages send people on when no application
   * sent them (Cancel on the first page, the done page, an ended flow). Absent, Cancel leads to this server's home
   * page and the other pages offer no such link.
   */
  homeUrl: string | undefined;
  privacyUrl: string | undefined;
  termsUrl: string | undefined;
}

export const DEFAULT_ACCENT = '#0b5cad';
/** The colours the accent meets on every page (public/styles.css): button text, card, page background. */
const BACKGROUNDS = { 'white button text and cards': '#ffffff', 'the page background': '#f3f5f8' } as const;
const WCAG_AA_TEXT = 4.5;

function luminance(hex: string): number {
  const channel = (i: number) => {
    const value = parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
}

/** WCAG 2.x contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

/** Why this accent colour cannot be used, or undefined when it meets WCAG AA everywhere it appears. */
export function accentProblem(accent: string): string | undefined {
  for (const [where, background] of Object.entries(BACKGROUNDS)) {
    const ratio = contrastRatio(accent, background);
    if (ratio < WCAG_AA_TEXT) {
      return `BRAND_ACCENT ${accent} has a contrast of ${ratio.toFixed(2)}:1 against ${where} (${background}); WCAG AA needs ${WCAG_AA_TEXT}:1: choose a darker colour`;
    }
  }
  return undefined;
}
