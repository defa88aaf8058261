// Issue 11: "no function in src/ runs past 100 lines". Every function-like node with a body (declarations,
// methods, arrows, accessors) is measured from its first to its last line.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(__dirname, '..')
const MAX_LINES = 100

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Each function in `text` with a body: where it starts and how many lines it spans. */
export function functionLengths(file: string, text: string): { at: string; lines: number }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found: { at: string; lines: number }[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line
      found.push({ at: `${file}:${first + 1}`, lines: last - first + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

describe('function length', () => {
  it('measures a function from its first line to its last, nested ones too', () => {
    const text = ['function outer() {', '  const inner = () => {', '    return 1', '  }', '  return inner', '}'].join('\n')
    expect(functionLengths('x.ts', text)).toEqual([
      { at: 'x.ts:1', lines: 6 },
      { at: 'x.ts:2', lines: 3 },
    ])
  })

  it(`no function in src/ runs past ${MAX_LINES} lines`, () => {
    const files = sourceFiles(join(ROOT, 'src'))
    expect(files.length).toBeGreaterThan(50)
    const long = files.flatMap((file) => functionLengths(relative(ROOT, file), readFileSync(file, 'utf8'))).filter(({ lines }) => lines > MAX_LINES)
    expect(long).toEqual([])
    // Parsing every source file takes seconds on a loaded machine (5.7 s once, beside the other suites).
  }, 30_000)
})
