import { facilityJson, listFacilities, setFacility } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `GET` and `POST /api/v1/financing/facilities` — contracts/financing.ts. */
export const { loader, action } = apiRoute(
  implement(listFacilities, async ({ principal, db }) => {
    const org = principal.organization;
    const scope =
      org.kind === "bank" ? {} : org.kind === "core_enterprise" ? { guarantorOrganizationId: org.id } : { borrowerOrganizationId: org.id };
    return { data: (await Financing.listFacilities(db, scope)).map(facilityJson) };
  }),
  implement(setFacility, async ({ body, db, actor }) =>
    facilityJson(
      await Financing.setFacility(db, actor, {
        kind: body.kind,
        productId: body.product_id ?? null,
        borrowerOrganizationId: body.borrower_id ?? null,
        guarantorOrganizationId: body.guarantor_id ?? null,
        parentFacilityId: body.parent_facility_id ?? null,
        buyBackDays: body.buy_back_days ?? null,
        validTo: body.valid_to,
        limitFen: body.limit_fen,
      }),
    ),
  ),
);
