import type { OrganizationKind, Role } from "../../db/schema";
import { isMessageKey, translateWithParams, type Locale, type MessageKey } from "~/i18n";
import { useLocale } from "~/i18n/react";
import { rolesFor, type ActionName } from "~/domain/identity";

/** Role names in the reader's language, joined as the language lists them. */
export function roleNames(roles: readonly string[], locale: Locale): string {
  const names = roles.map((role) => (isMessageKey(`role.${role}`) ? translateWithParams(locale, `role.${role}` as MessageKey) : role));
  return names.join(locale === "en" ? ", " : "、");
}

/**
 * Where a form is hidden because the member's role may not use it: one line naming the roles that
 * may, in the same words as the 403 a POST would get, so the page and the refusal agree.
 */
export function NeedsRole({ action, kind }: { action: ActionName; kind: OrganizationKind }) {
  const locale = useLocale();
  const roles: readonly Role[] = rolesFor(action, kind);
  if (roles.length === 0) return null;
  return (
    <p className="notice" role="note" data-needs-role={action}>
      {translateWithParams(locale, "error.needsRole", {
        roles: roleNames(roles, locale),
      })}
    </p>
  );
}
