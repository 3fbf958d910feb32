// Module resolve hook (repository only, see dqcodec.js): adds the "@dqcodec/source" export
// condition, so that @dqcodec/* packages resolve to their TypeScript sources.
export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions.includes('@dqcodec/source') ? context.conditions : [...context.conditions, '@dqcodec/source'];
  return nextResolve(specifier, { ...context, conditions });
}
