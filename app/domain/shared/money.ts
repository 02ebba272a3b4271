/**
 * Money arithmetic in integer fen. Amounts never pass through a float: a rate is applied, or a
 * share taken, by integer division rounded half to even (banker's rounding) to the fen, once, at
 * the posting (DESIGN.md, "Money and the ledger").
 */

export type Fen = number;

/** numerator / denominator rounded half to even; both non-negative, the denominator positive. */
export function divideHalfEven(numerator: bigint, denominator: bigint): bigint {
  if (numerator < 0n || denominator <= 0n) throw new RangeError(`divideHalfEven expects a non-negative integer over a positive one, got ${numerator}/${denominator}`);
  const quotient = numerator / denominator;
  const twice = (numerator % denominator) * 2n;
  if (twice > denominator || (twice === denominator && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

/** The same over safe integers (an average in whole fen, a pro-rata share). */
export function divideHalfEvenFen(numerator: number, denominator: number): number {
  if (!Number.isSafeInteger(numerator) || !Number.isSafeInteger(denominator)) {
    throw new RangeError(`divideHalfEven expects safe integers, got ${numerator}/${denominator}`);
  }
  return Number(divideHalfEven(BigInt(numerator), BigInt(denominator)));
}

/** amount × rate_bps / 10,000 in whole fen, rounded half to even. */
export function applyRateBps(amountFen: Fen, rateBps: number): Fen {
  return Number(divideHalfEven(BigInt(amountFen) * BigInt(rateBps), 10_000n));
}
