/**
 * Pure helpers for settlement accounts, safe in render code: how an account number is shown to
 * someone who may not read it in full, and the limits a form states.
 */

export const SETTLEMENT_ACCOUNT_LIMITS = {
  accountNumberDigitsMin: 8,
  accountNumberDigitsMax: 30,
  bankNameCharsMin: 2,
  bankNameCharsMax: 60,
  accountNameCharsMax: 200,
  /** The verification deposit, in fen: 0.01 to 0.99 yuan. */
  depositFenMin: 1,
  depositFenMax: 99,
  /** Wrong amounts before the account is locked, and for how long. */
  wrongAttemptsMax: 3,
  lockMs: 24 * 3600 * 1000,
} as const;

/** `**** **** 1234`: the last four digits, the rest hidden whatever their number. */
export function maskAccountNumber(accountNumber: string): string {
  return `**** **** ${accountNumber.slice(-4)}`;
}
