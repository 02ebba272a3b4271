import { isMessageKey, translateWithParams, type Locale } from "~/i18n";
import { useLocale } from "~/i18n/react";

/**
 * Building blocks of the listing, search and cart pages. Field errors arrive as problem codes;
 * this context's own codes live under `listing.problem.*` and are turned into text here, before
 * the shared field components (supply-ui.tsx), which translate the rest from `catalog.problem.*`
 * and show text they do not know as it is.
 */

export function listingProblemText(locale: Locale, code: string): string {
  for (const key of [`listing.problem.${code}`, `catalog.problem.${code}`]) {
    if (isMessageKey(key)) return translateWithParams(locale, key);
  }
  return code;
}

/** The field errors of a form with this context's codes already in words. */
export function useListingErrors(errors: Record<string, string>): Record<string, string> {
  const locale = useLocale();
  const out: Record<string, string> = {};
  for (const [field, code] of Object.entries(errors)) out[field] = listingProblemText(locale, code);
  return out;
}

/** A listing's sale status (在售 / 已下架) or moderation (正常 / 已屏蔽) as a coloured tag. */
export function ListingStateTag({ state }: { state: string }) {
  const locale = useLocale();
  const key = `listing.state.${state}`;
  return <span className={`sc-state listing-${state}`}>{isMessageKey(key) ? translateWithParams(locale, key) : state}</span>;
}

/** The title in the page's language first: an English page leads with the English title when there is one. */
export function ListingTitle({ title, titleEn, spec }: { title: string; titleEn: string; spec?: string }) {
  const locale = useLocale();
  const [main, other] = locale === "en" && titleEn ? [titleEn, title] : [title, titleEn];
  return (
    <span className="listing-title">
      <span className="listing-title-main">{main}</span>
      {other ? <span className="listing-title-other">{other}</span> : null}
      {spec ? <span className="listing-spec">{spec}</span> : null}
    </span>
  );
}

/** The merchant's name in the page's language. */
export function merchantLabel(locale: Locale, name: string, nameEn: string | null): string {
  return locale === "en" && nameEn ? nameEn : name;
}

/** A listing's picture, or the first character of its category on a tinted square. */
export function ListingThumb({ imageUrl, category, large = false }: { imageUrl: string; category: string; large?: boolean }) {
  const cls = `listing-thumb${large ? " large" : ""}`;
  if (imageUrl) {
    // The merchant's own host: no referrer leaves the platform with the image request.
    return <img className={cls} src={imageUrl} alt="" loading="lazy" referrerPolicy="no-referrer" />;
  }
  return (
    <span className={`${cls} placeholder`} aria-hidden="true">
      {Array.from(category)[0] ?? "·"}
    </span>
  );
}
