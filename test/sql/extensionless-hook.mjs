// A Node resolve hook for dt-sql-parser, whose ES module build imports its own files
// without extensions ('./parser'), which Node's ESM resolver refuses. Only relative
// imports from inside that package are retried, with '.js' and then '/index.js'.
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    const from = context.parentURL ?? '';
    if (!from.includes('/node_modules/dt-sql-parser/') || !specifier.startsWith('.')) throw e;
    for (const suffix of ['.js', '/index.js']) {
      try {
        return await next(specifier + suffix, context);
      } catch {
        // the next suffix
      }
    }
    throw e;
  }
}
