#!/usr/bin/env python3
"""Check the references from the code to the documentation.

    check_refs.py ROOT          check the tree at ROOT
    check_refs.py --self-test   feed the check broken references (must fail) and good ones

A reference is docs/<file>.md, optionally followed by one or more quoted section
names: docs/DESIGN.md, "Resets"  or  (docs/DESIGN.md "Key layout" and "The protocol").
Comment leaders (' * ', '# ', '// ') are joined across lines first, so a section
name broken over two comment lines is still one name. Fails when
  - the file does not exist in the repository,
  - a named section is not a heading of that file, or
  - the code points to a document a reader of this repository does not have
    ("DESIGN §2", "the seed's steps", "the mapping note", ../shared, notes/...md),
except in the files listed in tests/docs/pending-refs.txt (reported, not failed:
their owners are moving them to docs/ sections).
"""
import os
import re
import sys
import tempfile

CODE_EXT = ('.c', '.h', '.sh', '.py', '.cmake', '.lua', '.proto', '.supp')
SKIP_DIRS = {'.git', 'docs', 'self-test'}
REF = re.compile(r'docs/([A-Za-z0-9_./-]+\.md)((?:[,:]?\s*\(?\s*(?:and\s+|,\s*)?"[^"]+")*)')
SECTION = re.compile(r'"([^"]+)"')
LEGACY = [
    (re.compile(r'DESIGN(?:\.md)?\s*§'), 'DESIGN §N'),
    (re.compile(r'§\s*\d'), '§N'),
    (re.compile(r"\bseed's\b|\bfollows the seed\b"), "the seed"),
    (re.compile(r'\bmapping note\b'), 'the mapping note'),
    (re.compile(r'\.\./shared\b|\bshared/notes\b'), '../shared'),
    (re.compile(r'(?<!docs/)(?<![A-Za-z0-9_/])notes/[A-Za-z0-9_-]+\.md'), 'notes/*.md'),
]
LEADER = re.compile(r'\n[ \t]*(?:/?\*+/?|#+|//+|--)?[ \t]?')


def norm(s):
    return ' '.join(s.split())


def headings(path, cache={}):
    if path not in cache:
        hs = set()
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                m = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
                if m:
                    hs.add(norm(m.group(1)))
        cache[path] = hs
    return cache[path]


def code_files(root):
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith('build')
                   and not (rel == '.' and x in ('build', '.ci'))]
        for f in files:
            if f.endswith(CODE_EXT) or f == 'CMakeLists.txt':
                yield os.path.join(d, f)


def check(root):
    pending = set()
    pf = os.path.join(root, 'tests/docs/pending-refs.txt')
    if os.path.exists(pf):
        with open(pf) as f:
            pending = {l.strip() for l in f if l.strip() and not l.startswith('#')}
    errors, waiting, refs = [], [], 0
    for path in sorted(code_files(root)):
        rel = os.path.relpath(path, root)
        if rel.startswith('tests/docs/'):
            continue
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        joined = LEADER.sub(' ', text)
        for m in REF.finditer(joined):
            refs += 1
            doc = os.path.join(root, 'docs', m.group(1))
            if not os.path.isfile(doc):
                errors.append('%s: docs/%s does not exist' % (rel, m.group(1)))
                continue
            for sec in SECTION.findall(m.group(2)):
                if norm(sec) not in headings(doc):
                    errors.append('%s: docs/%s has no section "%s"' % (rel, m.group(1), norm(sec)))
        for lineno, line in enumerate(text.splitlines(), 1):
            for rx, what in LEGACY:
                if rx.search(line):
                    msg = '%s:%d: points outside the repository (%s): %s' % (
                        rel, lineno, what, line.strip()[:100])
                    (waiting if rel in pending else errors).append(msg)
                    break
    for w in waiting:
        print('pending: ' + w)
    for e in errors:
        print('ERROR: ' + e, file=sys.stderr)
    print('check_refs: %d references to docs/ checked, %d errors, %d pending' %
          (refs, len(errors), len(waiting)))
    return 1 if errors else 0


def self_test():
    with tempfile.TemporaryDirectory() as t:
        os.makedirs(os.path.join(t, 'docs/backends'))
        os.makedirs(os.path.join(t, 'src'))
        with open(os.path.join(t, 'docs/DESIGN.md'), 'w') as f:
            f.write('# Notes\n\n## Resets\n\ntext\n\n### Finding the driver plugins\n')
        with open(os.path.join(t, 'docs/backends/zk.md'), 'w') as f:
            f.write('# ZK\n## Reads on an ensemble\n')
        good = ('/* see docs/DESIGN.md, "Resets", and (docs/DESIGN.md, "Finding\n'
                ' * the driver plugins") and docs/backends/zk.md "Reads on an ensemble" */\n'
                '# docs/DESIGN.md ("Resets" and "Finding the driver plugins")\n')
        with open(os.path.join(t, 'src/a.c'), 'w') as f:
            f.write(good)
        if check(t) != 0:
            print('self-test: good references were refused', file=sys.stderr)
            return 1
        bad = [
            '/* docs/DESIGN.md, "Nope" */\n',
            '/* docs/MISSING.md */\n',
            '# docs/DESIGN.md ("Resets" and "Gone")\n',
            '/* the store contract (DESIGN §2) */\n',
            '/* as the seed\'s steps say */\n',
            '/* see the mapping note */\n',
            '/* ../shared/DESIGN.md */\n',
            '/* notes/zk-mapping.md */\n',
        ]
        for b in bad:
            with open(os.path.join(t, 'src/b.c'), 'w') as f:
                f.write(b)
            if check(t) == 0:
                print('self-test: not caught: %r' % b, file=sys.stderr)
                return 1
        os.remove(os.path.join(t, 'src/b.c'))
        # a pending file is reported, not failed
        os.makedirs(os.path.join(t, 'tests/docs'))
        with open(os.path.join(t, 'src/c.c'), 'w') as f:
            f.write('/* DESIGN §5 */\n')
        with open(os.path.join(t, 'tests/docs/pending-refs.txt'), 'w') as f:
            f.write('src/c.c\n')
        if check(t) != 0:
            print('self-test: a pending file failed the check', file=sys.stderr)
            return 1
    print('self-test: passed')
    return 0


if __name__ == '__main__':
    if len(sys.argv) == 2 and sys.argv[1] == '--self-test':
        sys.exit(self_test())
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(check(sys.argv[1]))
