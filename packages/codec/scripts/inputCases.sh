#!/bin/bash
# Issue 16 (inputs that are not what they claim to be) through the real CLI with models/default:
# one table row per case with exit status, wall time and peak RSS (GNU time), and the message.
# Fixtures are generated in a temporary directory (sparse files for the big ones).
# Usage: bash packages/codec/scripts/inputCases.sh   (needs GNU time at /usr/bin/time, mkfifo, python3)
D=$(cd "$(dirname "$0")/../../.." && pwd); B="node $D/cli/bin/dqcodec.js"; W=$(mktemp -d); cd "$W"; trap 'rm -rf "$W"' EXIT
node -e "
const sharp=require('$D/node_modules/sharp');const fs=require('fs');
(async()=>{const w=255,h=170,px=Buffer.alloc(w*h*3);for(let i=0;i<px.length;i++)px[i]=(i*37+(i>>9))%251;
await sharp(px,{raw:{width:w,height:h,channels:3}}).png().toFile('photo.png');
const jpg=await sharp(px,{raw:{width:w,height:h,channels:3}}).jpeg().toBuffer();
const big=Buffer.from(jpg.subarray(0,400));const i=big.indexOf(Buffer.from([0xff,0xc0]));big.writeUInt16BE(8000,i+5);big.writeUInt16BE(8000,i+7);
fs.writeFileSync('claims8000.jpg',Buffer.concat([big.subarray(0,263),Buffer.from([0xff,0xd9])]));
fs.writeFileSync('half.jpg',Buffer.concat([jpg.subarray(0,jpg.length>>1),Buffer.from([0xff,0xd9])]));
const f=Array.from({length:20},(_,i)=>'<filter id=\"f'+i+'\"><feGaussianBlur stdDeviation=\"300\"/><feMorphology radius=\"200\"/></filter>').join('');
const g=Array.from({length:20},(_,i)=>'<g filter=\"url(#f'+i+')\">').join('');
fs.writeFileSync('bomb.svg','<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4000\" height=\"4000\">'+f+g+'<rect width=\"4000\" height=\"4000\"/>'+'</g>'.repeat(20)+'</svg>');
})()"
$B encode photo.png -o photo.dqc -q; $B tokens photo.png -o photo.json -q
cp photo.dqc junk.dqc; truncate -s $(( $(stat -c %s photo.dqc) + 1500000000 )) junk.dqc
echo '{' > huge.json; truncate -s 600000000 huge.json
mkfifo fifo.png
cp -r $D/models/default rb; python3 - <<'P'
import json;m=json.load(open('rb/manifest.json'));m['config']['resBlocks']=10**12;json.dump(m,open('rb/manifest.json','w'))
P
cp -r $D/models/default tm; python3 - <<'P'
import json;m=json.load(open('tm/manifest.json'));m['tileMargins']={'encoder':-16,'decoder':16};json.dump(m,open('tm/manifest.json','w'))
P
cp -r $D/models/default hugeman; truncate -s 587000000 hugeman/manifest.json
run() { local label="$1"; shift; /usr/bin/time -f "%e %M" -o t.txt timeout -s KILL 120 "$@" > out.txt 2> err.txt; rc=$?; read s kb < <(tail -1 t.txt); printf '| %s | %s | %s s | %d MB | %s |\n' "$label" "$rc" "$s" $((kb/1000)) "$(grep -v '^(run with' err.txt | head -1 | cut -c1-150)"; }

run 'encode /dev/zero' $B encode /dev/zero -o z.dqc
run 'decode /dev/zero' $B decode /dev/zero -o z.png
run 'info /dev/zero' $B info /dev/zero
run 'detokenize /dev/zero' $B detokenize /dev/zero -o z.png
run 'decode 255×170 .dqc + 1.5 GB zeros' $B decode junk.dqc -o j.png
run 'decode … --levels 1' $B decode junk.dqc -o j.png --levels 1
run 'info …' $B info junk.dqc
run 'encode FIFO (no writer)' $B encode fifo.png -o f.dqc
run "encode $(stat -c %s bomb.svg)-byte SVG, 4000², 20 filters" $B encode bomb.svg -o s.dqc
run 'encode JPEG claiming 8000×8000' $B encode claims8000.jpg -o c.dqc
run 'encode half a JPEG' $B encode half.jpg -o h.dqc
run 'encode half a JPEG --allow-corrupt' $B encode half.jpg -o h.dqc --allow-corrupt
run 'detokenize 600 MB token file' $B detokenize huge.json -o t.png
run 'encode --flatten notacolour' $B encode photo.png -o x.dqc --flatten notacolour
run 'decode with resBlocks 1e12' $B decode photo.dqc -o x.png -m rb
run 'decode with tileMargins.encoder -16' $B decode photo.dqc -o x.png -m tm
run 'decode with a 587 MB manifest' $B decode photo.dqc -o x.png -m hugeman
run 'encode --threads 100000' $B encode photo.png -o x.dqc --threads 100000
echo "files left behind (outputs of refused cases, temporary files): $(ls -A | grep -v -E '^(photo|junk|huge|fifo|rb|tm|hugeman|bomb|claims|half|t\.txt|out|err|h\.dqc)' | tr '\n' ' ')"
