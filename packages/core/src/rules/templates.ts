import Handlebars from 'handlebars';

/**
 * One isolated Handlebars environment for all rules: user templates cannot register helpers or
 * partials, and cannot reach prototype properties or methods (Handlebars' defaults since 4.6, pinned
 * here explicitly so a global change elsewhere in the app cannot loosen them).
 */
const env = Handlebars.create();

const COMPILE_OPTIONS = {
  // Message bodies are plain text (SMS, email text, JSON strings); HTML escaping would corrupt them.
  noEscape: true,
  // Only built-in helpers (if, unless, each, with, lookup); an unknown helper is a save-time error.
  knownHelpersOnly: true,
  strict: false,
} as const;

const RUNTIME_OPTIONS = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
  allowedProtoProperties: {},
  allowedProtoMethods: {},
} as const;

export type RenderTemplate = (context: Record<string, unknown>) => string;

export const MAX_TEMPLATE_LENGTH = 10_000;

function hasTemplateSyntax(source: string): boolean {
  return source.includes('{{');
}

/** Returns null when `source` compiles, else a message saying why not. */
export function checkTemplate(source: string): string | null {
  if (source.length > MAX_TEMPLATE_LENGTH) return `template is longer than ${MAX_TEMPLATE_LENGTH} characters`;
  if (!hasTemplateSyntax(source)) return null;
  try {
    const ast = env.parse(source);
    if (containsPartial(ast)) return 'partials ({{> name}}) are not allowed in templates';
    env.precompile(source, COMPILE_OPTIONS);
    return null;
  } catch (error) {
    return `template does not compile: ${firstLine((error as Error).message)}`;
  }
}

/** Compiles once; the returned function renders many times. Plain strings cost nothing. */
export function compileTemplate(source: string): RenderTemplate {
  if (!hasTemplateSyntax(source)) return () => source;
  const template = env.compile(source, COMPILE_OPTIONS);
  return (context) => template(context, RUNTIME_OPTIONS);
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.slice(0, 300);
}

function containsPartial(node: unknown): boolean {
  if (typeof node !== 'object' || node === null) return false;
  const n = node as { type?: string; body?: unknown[]; program?: unknown; inverse?: unknown };
  if (n.type === 'PartialStatement' || n.type === 'PartialBlockStatement' || n.type === 'DecoratorBlock' || n.type === 'Decorator') {
    return true;
  }
  if (Array.isArray(n.body) && n.body.some(containsPartial)) return true;
  return containsPartial(n.program) || containsPartial(n.inverse);
}
