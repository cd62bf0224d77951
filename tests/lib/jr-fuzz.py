# See LICENSE file for copyright and license details.
#
# jr-fuzz.py SEED N: N lines of JSON and near-JSON for tests/lib.bats, the
# same for the same SEED.  Values are built from atoms chosen because libjq
# reads them in its own way (lenient numbers, "nan", lone surrogates, bad
# UTF-8, raw control bytes, deep nesting), then some lines are cut short or
# get a stray byte, a second value or a byte order mark.
import random
import sys

rnd = random.Random(int(sys.argv[1]))
n = int(sys.argv[2])
atoms = ['0','-0','1','-1','12','1.0','1.50','0.06','1e5','1E+5','1e-7','-2.5e-3','123456789012345','1234567890123456','12345678901234567890',
 '9007199254740993','1e400','-1e400','1e-400','0.1','0.30000000000000004','3.141592653589793238','100000000000000000000','nan','NaN','-nan','01','-01','.5','5.','+1','1e','1e+','--1','0x10','Infinity','-Infinity',
 'true','false','null','tru','nul','"x"','""','"a\\"b"','"\\u00e9"','"\\u0000"','"\\ud83d\\ude00"','"\\ud83d"','"\\ude00"','"\\ud83dx"','"\\uD800\\uDBFF"','"\\u12"','"\\x"','"\\/"','"\\b\\f\\n\\r\\t"',
 '"\x01"','"\x1f"','"\x7f"','"é"','"\xc3"','"\xe2\x82"','"\xe2\x82\xac"','"\xf0\x9f\x98\x80"','"\xed\xa0\x80"','"\xc0\x80"','"\xf4\x90\x80\x80"','"\xff"','"tab\there"']
def val(d):
    r = rnd.random()
    if d > 4 or r < 0.5:
        return rnd.choice(atoms)
    if r < 0.75:
        items = [val(d+1) for _ in range(rnd.randint(0,4))]
        return '[' + rnd.choice([',',', ',' ,']).join(items) + ']'
    keys = ['a','b','id','a','x\\u00e9','','"','k\\"','\\u0000z']
    items = ['"%s"%s%s' % (rnd.choice(keys), rnd.choice([':',' : ']), val(d+1)) for _ in range(rnd.randint(0,4))]
    return '{' + ','.join(items) + '}'
for _ in range(n):
    s = val(0)
    r = rnd.random()
    if r < 0.1 and s:
        i = rnd.randrange(len(s)); s = s[:i]
    elif r < 0.2 and s:
        i = rnd.randrange(len(s)); s = s[:i] + rnd.choice(['{','}','[',']',',',':','"','\\',' ','\t','\r','\x0b','\xef\xbb\xbf']) + s[i:]
    elif r < 0.25:
        s = s + ' ' + val(0)
    elif r < 0.3:
        s = '\xef\xbb\xbf' + s
    elif r < 0.35:
        s = '[' * rnd.choice([63,64,65,100,300]) + ']' * rnd.choice([63,64,65,100,300])
    sys.stdout.buffer.write(s.encode('latin-1') + b'\n')
