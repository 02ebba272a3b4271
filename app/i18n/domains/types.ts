/** The English catalogue of a context must give every key of its zh-CN source. */
export type EnFor<Z> = { readonly [K in keyof Z]: string };
