// What a person recognises a browser by on "Your sessions and apps" (flows/account-sessions.ts): its name and its
// system, from the User-Agent header its sign-in sent. Only the common browsers and systems are named; anything else
// is left unnamed rather than guessed. The header is the browser's own to write: a hint for its owner, never proof.

/** A browser's name and system, each when recognised. */
export interface BrowserDescription {
  browser?: string;
  os?: string;
}

// Order matters: browsers built on Chromium also say Chrome (and Safari), and Chrome on iOS says Safari.
const BROWSERS: Array<[RegExp, string]> = [
  [/\bEdg(e|A|iOS)?\//, 'Edge'],
  [/\b(OPR|Opera)\//, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bVivaldi\//, 'Vivaldi'],
  [/\b(Firefox|FxiOS)\//, 'Firefox'],
  [/\b(Chrome|HeadlessChrome|CriOS|Chromium)\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

const SYSTEMS: Array<[RegExp, string]> = [
  [/\bWindows\b/, 'Windows'],
  [/\b(iPhone|iPod)\b/, 'iOS'],
  [/\biPad\b/, 'iPadOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

const firstMatch = (header: string, patterns: Array<[RegExp, string]>) => patterns.find(([pattern]) => pattern.test(header))?.[1];

export function describeUserAgent(header: string | undefined): BrowserDescription {
  if (!header) return {};
  const browser = firstMatch(header, BROWSERS);
  const os = firstMatch(header, SYSTEMS);
  return { ...(browser && { browser }), ...(os && { os }) };
}

/** As much of a User-Agent header as is kept with a session: enough to describe it, bounded. */
export const keptUserAgent = (header: string) => header.slice(0, 300);
