// A small store-based i18n: three dictionaries, `{name}` interpolation,
// the choice kept in localStorage. Components use `$t("key", { name })`.
import { derived, get, writable } from "svelte/store";
import uk from "../locales/uk.json";
import ru from "../locales/ru.json";
import en from "../locales/en.json";

export type Locale = "uk" | "ru" | "en";
export type Params = Record<string, string | number>;
export type Dictionary = Record<string, string>;

export const LOCALES: readonly Locale[] = ["uk", "ru", "en"];
export const DEFAULT_LOCALE: Locale = "uk";
export const dictionaries: Record<Locale, Dictionary> = { uk, ru, en };

const STORAGE_KEY = "kasa.locale";

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

/** Replaces each `{name}` with `params.name`; unknown names are left as they are. */
export function interpolate(template: string, params?: Params): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** Looks a key up in `locale`, then in the default language, then gives the key itself. */
export function translate(locale: Locale, key: string, params?: Params): string {
  const template = dictionaries[locale][key] ?? dictionaries[DEFAULT_LOCALE][key] ?? key;
  return interpolate(template, params);
}

export const locale = writable<Locale>(storedLocale());

locale.subscribe((value) => {
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

/**
 * A text that depends on a count, by the language's plural rules
 * (`Intl.PluralRules`): `key.one`, `key.few`, `key.many` or `key.other`,
 * with `{count}` filled.
 */
export function translatePlural(locale: Locale, key: string, count: number, params?: Params): string {
  const form = new Intl.PluralRules(locale).select(count);
  const chosen = lookup(locale, `${key}.${form}`) !== undefined ? `${key}.${form}` : `${key}.other`;
  return translate(locale, chosen, { count, ...params });
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
  return dictionaries[$locale][key] ?? dictionaries[DEFAULT_LOCALE][key];
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
