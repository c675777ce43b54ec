// Functions in src/ longer than N lines (default 100), longest first: node --import tsx scripts/function-sizes.ts [N]
import ts from 'typescript';
import { readFileSync } from 'node:fs';
import { execSync } from 'node:child_process';
const min = Number(process.argv[2] ?? 100);
const files = execSync("git ls-files 'src/*.ts' 'src/**/*.ts'", { encoding: 'utf8' }).trim().split('\n');
const rows: [number, string][] = [];
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const sf = ts.createSourceFile(f, text, ts.ScriptTarget.Latest, true);
  const visit = (n: ts.Node) => {
    if (ts.isFunctionLike(n) && (n as ts.FunctionLikeDeclaration).body) {
      const a = sf.getLineAndCharacterOfPosition(n.getStart()).line + 1;
      const b = sf.getLineAndCharacterOfPosition(n.getEnd()).line + 1;
      let name = (n as ts.FunctionDeclaration).name?.getText() ?? '';
      if (!name && ts.isVariableDeclaration(n.parent)) name = n.parent.name.getText();
      if (!name && ts.isPropertyAssignment(n.parent)) name = n.parent.name.getText();
      if (b - a + 1 > min) rows.push([b - a + 1, `${f}:${a} ${name || '(anonymous)'}`]);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}
rows.sort((x, y) => y[0] - x[0]);
for (const [n, w] of rows) console.log(`${n}\t${w}`);
console.log(`${rows.length} functions over ${min} lines`);
