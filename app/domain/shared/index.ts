/**
 * The shared context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { rolesCell } from "./roles-doc";
export { SHANGHAI_OFFSET_MS, addDays, isBusinessDate, shanghaiDate } from "./dates";
export { DomainError, isDomainError } from "./errors";
export { GroupCommit } from "./group-commit";
export type { Settled } from "./group-commit";
export { UUID_PATTERN, isUuid } from "./ids";
export { applyRateBps, divideHalfEven, divideHalfEvenFen } from "./money";
export { USCC_MESSAGES, normalizeUscc, usccCheckCharacter, usccProblem } from "./uscc";
export { within } from "./within";
export { readBodyLimited } from "./body.server";
export { SYSTEM_ACTOR, auditClause, auditClauseOfRows, auditInsert, auditRows, listAuditEvents, recordAudit, recordAudits } from "./audit.server";
export type { Actor, AuditEntry } from "./audit.server";
export { decodeCursor, encodeCursor, invalidCursor, pageOfList } from "./cursor.server";
export { checkDateRange, daysInRange, resolveDateRange } from "./date-range.server";
export { YUAN_IN_WORDS_MAX_FEN, yuanInWords } from "./money-words";
export { spreadsheetCsv, spreadsheetSafe } from "./csv.server";
