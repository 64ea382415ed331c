// The UI's languages through i18next: Ukrainian (default), Russian and
// English, one flat dictionary each (`src/locales/*.json`), `{name}`
// placeholders, plural forms by the language's rules (`key.one`, `key.few`,
// `key.many`, `key.other`, chosen by i18next with `Intl.PluralRules`), and
// amounts, dates and times formatted for the language with `Intl`. The
// choice is kept in localStorage and, once logged in, per user on the server.
// Components use `$t("key", { name })`, `$tp("key", count)` and `$fmt`.
import i18next, { type TFunction } from "i18next";
import { derived, get, writable } from "svelte/store";
import uk from "../locales/uk.json";
import ru from "../locales/ru.json";
import en from "../locales/en.json";
import { splitMinor } from "./money";

export type Locale = "uk" | "ru" | "en";
export type Dictionary = Record<string, string>;

/** An amount in minor units, formatted for the language when a text is made. */
export class Minor {
  constructor(readonly minor: number | bigint) {}
}

/** `{ amount: minor(1250) }`: an amount the translation formats for its language. */
export const minor = (value: number | bigint): Minor => new Minor(value);

export type Params = Record<string, string | number | Minor>;

export const LOCALES: readonly Locale[] = ["uk", "ru", "en"];
export const DEFAULT_LOCALE: Locale = "uk";
export const dictionaries: Record<Locale, Dictionary> = { uk, ru, en };

/** The language tag `Intl` formats with: the shop is in Ukraine. */
export const INTL_TAGS: Record<Locale, string> = { uk: "uk-UA", ru: "ru-UA", en: "en-GB" };

const STORAGE_KEY = "kasa.locale";

const engine = i18next.createInstance();
void engine.init({
  resources: {
    uk: { translation: uk },
    ru: { translation: ru },
    en: { translation: en },
  },
  lng: DEFAULT_LOCALE,
  fallbackLng: DEFAULT_LOCALE,
  supportedLngs: [...LOCALES],
  // Keys are flat ("money.card_charged"); the dot also separates plural forms.
  keySeparator: false,
  nsSeparator: false,
  pluralSeparator: ".",
  initAsync: false,
  returnNull: false,
  interpolation: {
    prefix: "{",
    suffix: "}",
    // Svelte escapes what it renders.
    escapeValue: false,
    // A placeholder with no value stays as it is, so a missing one shows.
    skipOnVariables: true,
  },
  missingInterpolationHandler: (_text: string, match: RegExpExecArray) => match[0],
});

const fixed: Record<Locale, TFunction> = {
  uk: engine.getFixedT("uk"),
  ru: engine.getFixedT("ru"),
  en: engine.getFixedT("en"),
};

function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

function storedLocale(): Locale {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (isLocale(saved)) return saved;
  } catch {
    // localStorage can be unavailable (privacy settings); fall back quietly.
  }
  return DEFAULT_LOCALE;
}

/** What the language's texts and screens show: amounts, dates and times, by `Intl`. */
export interface Formats {
  /** Minor units as an amount: 125000 → "1 250,00" (uk), "1,250.00" (en). Exact for any integer. */
  money(minor: number | bigint): string;
  /** A number with up to `maxFraction` decimals (a quantity: 1,5). */
  number(value: number, maxFraction?: number): string;
  /** An RFC 3339 time as a date ("25.11.2026", "25/11/2026"); the text itself if it does not parse. */
  date(iso: string): string;
  /** ... as a time of day ("14:05"). */
  time(iso: string): string;
  /** ... as a date and time. */
  dateTime(iso: string): string;
}

const formatsCache = new Map<Locale, Formats>();

/** The formats of a language. */
export function formatsFor(lang: Locale): Formats {
  const cached = formatsCache.get(lang);
  if (cached) return cached;
  const tag = INTL_TAGS[lang];
  const amount = new Intl.NumberFormat(tag, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const dates = new Intl.DateTimeFormat(tag, { day: "2-digit", month: "2-digit", year: "numeric" });
  const times = new Intl.DateTimeFormat(tag, { timeStyle: "short" });
  const both = new Intl.DateTimeFormat(tag, {
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
  const when = (iso: string, f: Intl.DateTimeFormat) => {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : f.format(d);
  };
  const formats: Formats = {
    // A decimal string keeps every digit (Intl formats it exactly, no float).
    money: (m) => {
      const { sign, whole, cents } = splitMinor(m);
      return amount.format(`${sign}${whole}.${cents}` as unknown as number);
    },
    number: (value, maxFraction = 3) => new Intl.NumberFormat(tag, { maximumFractionDigits: maxFraction }).format(value),
    date: (iso) => when(iso, dates),
    time: (iso) => when(iso, times),
    dateTime: (iso) => when(iso, both),
  };
  formatsCache.set(lang, formats);
  return formats;
}

function prepared(lang: Locale, params?: Params): Record<string, unknown> | undefined {
  if (!params) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    out[name] = value instanceof Minor ? formatsFor(lang).money(value.minor) : value;
  }
  return out;
}

/** Replaces each `{name}` with `params.name`; unknown names are left as they are. */
export function interpolate(template: string, params?: Params, lang: Locale = DEFAULT_LOCALE): string {
  if (!params) return template;
  const values = prepared(lang, params)!;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole,
  );
}

/** Looks a key up in `locale`, then in the default language, then gives the key itself. */
export function translate(lang: Locale, key: string, params?: Params): string {
  return fixed[lang](key, prepared(lang, params)) as string;
}

export const locale = writable<Locale>(storedLocale());

locale.subscribe((value) => {
  void engine.changeLanguage(value);
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, value);
  } catch {
    // see storedLocale
  }
  if (typeof document !== "undefined") {
    document.documentElement.lang = value;
    document.title = translate(value, "app.title");
  }
});

export function setLocale(value: Locale): void {
  locale.set(value);
}

/** The translation function for the current language: `$t("pay.button")`. */
export const t = derived(locale, ($locale) => (key: string, params?: Params) => translate($locale, key, params));

/** `$fmt.money(1250)`, `$fmt.time(iso)` in the current language. */
export const fmt = derived(locale, ($locale) => formatsFor($locale));

/**
 * A text that depends on a count, by the language's plural rules: i18next
 * picks `key.one`, `key.few`, `key.many` or `key.other`, with `{count}`
 * filled.
 */
export function translatePlural(lang: Locale, key: string, count: number, params?: Params): string {
  return fixed[lang](key, { ...prepared(lang, params), count }) as string;
}

/** `$tp("login.wrong_pin", 3)` in the current language. */
export const tp = derived(
  locale,
  ($locale) => (key: string, count: number, params?: Params) => translatePlural($locale, key, count, params),
);

/** Non-reactive translation, for code outside components. */
export function tr(key: string, params?: Params): string {
  return translate(get(locale), key, params);
}

function lookup($locale: Locale, key: string): string | undefined {
  return engine.exists(key, { lng: $locale }) ? translate($locale, key) : undefined;
}

/**
 * A stable code the backend sends (a problem, a device error, a blocking
 * condition: `fiscal.paper_out`, `terminal.transport.link_lost`,
 * `payment.remaining`...) in a language: its text, or, for a code this UI
 * does not know, a generic text that names the code.
 */
export function codeTranslation($locale: Locale, code: string): string {
  const known = lookup($locale, `code.${code}`);
  return known ?? translate($locale, "code.unknown", { code });
}

/**
 * Why a card payment was declined: the bank's code (`05`, `0051`; leading
 * zeros do not matter), or one of Kasa's stable codes (`terminal.not_sent`,
 * `terminal.device.no_host_link`); a bank code this UI does not know is named.
 */
export function declineTranslation($locale: Locale, code: string): string {
  const c = code.trim();
  if (/^\d+$/.test(c)) {
    const host = c.replace(/^0+(?=\d)/, "");
    return lookup($locale, `decline.host.${host}`) ?? translate($locale, "decline.unknown", { code: c });
  }
  return codeTranslation($locale, c);
}

/** `$codeText("fiscal.paper_out")` in the current language. */
export const codeText = derived(locale, ($locale) => (code: string) => codeTranslation($locale, code));

/** `$declineText("51")` in the current language. */
export const declineText = derived(locale, ($locale) => (code: string) => declineTranslation($locale, code));
