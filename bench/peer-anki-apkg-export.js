#!/usr/bin/env node
// peer-anki-apkg-export.js - the npm exporter as a benchmark peer.
//
// usage: NODE_PATH=bench/cache/node_modules node bench/peer-anki-apkg-export.js NOTES.json OUT.apkg
//
// NOTES.json is what `mdeck check --json DECK` prints: the same notes mdeck
// puts in its package (rendered, sanitized front and answer HTML, tags) and
// the deck's media files.  anki-apkg-export makes one deck with one note
// type of two fields, so subdecks and the Source field are left out; every
// note and image is fed in.  Reading the JSON is part of the timed run
// (mdeck reads its markdown too).
'use strict';
const fs = require('fs');
const path = require('path');
const AnkiExport = require('anki-apkg-export').default;

const [notesPath, outPath] = process.argv.slice(2);
if (!notesPath || !outPath) {
  console.error('usage: peer-anki-apkg-export.js NOTES.json OUT.apkg');
  process.exit(2);
}
const root = JSON.parse(fs.readFileSync(notesPath, 'utf8'));
const deck = root.decks[0];
const apkg = new AnkiExport(deck.name);
for (const m of deck.media) {
  const file = path.isAbsolute(m.path) ? m.path : path.join(path.dirname(notesPath), m.path);
  apkg.addMedia(m.name, fs.readFileSync(fs.existsSync(file) ? file : m.path));
}
let n = 0;
for (const note of deck.notes) {
  const front = note.cloze ? note.cloze_html : note.front_html;
  const back = note.answer ? note.answer.html : '';
  apkg.addCard(front, back, { tags: note.tags });
  n++;
}
apkg.save().then((zip) => {
  fs.writeFileSync(outPath, zip);
  console.error(`anki-apkg-export: ${n} notes, ${deck.media.length} media, ${zip.length} bytes`);
}).catch((e) => {
  console.error(`anki-apkg-export failed: ${e && e.stack || e}`);
  process.exit(1);
});
