// Checkpoint-folder tests: sharded write and read through the index, huggingface_hub's split rule, the index
// text as Python writes it, single-file checkpoints, stale-file clean-up, and broken folders.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { pythonJsonDumps } from './json-format.ts';
import { openSafetensors, parseSafetensors } from './read.ts';
import { INDEX_FILE_NAME, openCheckpoint, writeShardedCheckpoint } from './sharded.ts';
import { assertRoadsterError, peftFixture, withTempDir } from './test-support.ts';
import { serializeSafetensors, type TensorToWrite } from './write.ts';

function tinyLlamaTensors(): TensorToWrite[] {
  const reader = openSafetensors(peftFixture('models', 'tiny-llama', 'model.safetensors'));
  try {
    return reader.tensorNames().map((name) => ({ name, ...reader.readTensor(name) }));
  } finally {
    reader.close();
  }
}

const bytesTensor = (name: string, size: number): TensorToWrite => ({
  name,
  dtype: 'U8',
  shape: [size],
  data: new Uint8Array(size).fill(size),
});

test('writes tiny-llama as shards with an index, and reads it back through the index', async () => {
  const tensors = tinyLlamaTensors();
  await withTempDir((folder) => {
    const written = writeShardedCheckpoint(folder, tensors, 100_000);
    assert.equal(written.totalSize, 427264);
    // huggingface_hub's rule on the file order gives 5 shards: [lm_head] (64 KiB), then 96.25, 88.25, 88.25 and
    // 80.5 KiB of layer tensors (checked against a Python run of split_state_dict_into_shards_factory).
    assert.equal(written.files.length, 5);
    assert.equal(written.indexFile, path.join(folder, INDEX_FILE_NAME));
    assert.deepEqual(fs.readdirSync(folder).sort(), [
      'model-00001-of-00005.safetensors',
      'model-00002-of-00005.safetensors',
      'model-00003-of-00005.safetensors',
      'model-00004-of-00005.safetensors',
      'model-00005-of-00005.safetensors',
      INDEX_FILE_NAME,
    ]);
    const indexText = fs.readFileSync(written.indexFile!, 'utf8');
    const head = [
      '{',
      '  "metadata": {',
      '    "total_size": 427264',
      '  },',
      '  "weight_map": {',
      '    "lm_head.weight": "model-00001-of-00005.safetensors",',
      '    "model.embed_tokens.weight": "model-00002-of-00005.safetensors",',
    ];
    assert.ok(indexText.startsWith(`${head.join('\n')}\n`));
    assert.ok(indexText.endsWith('"model.norm.weight": "model-00005-of-00005.safetensors"\n  }\n}\n'));

    const checkpoint = openCheckpoint(folder);
    try {
      assert.deepEqual(checkpoint.indexMetadata, { total_size: 427264 });
      assert.deepEqual(checkpoint.metadata, { format: 'pt' });
      assert.deepEqual(checkpoint.files, written.files);
      assert.deepEqual(new Set(checkpoint.tensorNames()), new Set(tensors.map((t) => t.name)));
      for (const t of tensors) {
        const raw = checkpoint.readTensor(t.name);
        assert.deepEqual(raw.data, t.data, t.name);
        assert.deepEqual(checkpoint.info(t.name).shape, t.shape);
      }
      assert.equal(checkpoint.fileOf('lm_head.weight'), written.files[0]);
      assertRoadsterError(() => checkpoint.info('nope'), 'E_WEIGHTS', INDEX_FILE_NAME, '"nope"');
    } finally {
      checkpoint.close();
    }
  });
});

test("splits shards as huggingface_hub does (its docstring's example, and an oversized tensor)", async () => {
  await withTempDir((folder) => {
    // [6, 6, 2, 6, 2, 2] with a limit of 10 → [6], [6+2], [6+2+2].
    const sizes = [6, 6, 2, 6, 2, 2];
    writeShardedCheckpoint(folder, sizes.map((s, i) => bytesTensor(`t${i}`, s)), 10);
    const index = JSON.parse(fs.readFileSync(path.join(folder, INDEX_FILE_NAME), 'utf8'));
    const of3 = (i: number): string => `model-0000${i}-of-00003.safetensors`;
    assert.deepEqual(index.weight_map, { t0: of3(1), t1: of3(2), t2: of3(2), t3: of3(3), t4: of3(3), t5: of3(3) });
    // An oversized tensor gets its own shard, placed before the shard still being filled.
    writeShardedCheckpoint(folder, [bytesTensor('a', 3), bytesTensor('big', 12), bytesTensor('c', 4)], 10);
    const again = JSON.parse(fs.readFileSync(path.join(folder, INDEX_FILE_NAME), 'utf8'));
    const of2 = (i: number): string => `model-0000${i}-of-00002.safetensors`;
    assert.deepEqual(again.weight_map, { a: of2(2), big: of2(1), c: of2(2) });
    assert.deepEqual(again.metadata, { total_size: 19 });
    assert.deepEqual(fs.readdirSync(folder).sort(), [...[1, 2].map(of2), INDEX_FILE_NAME], 'stale 3-shard files removed');
  });
});

test('a checkpoint that fits one shard is a plain model.safetensors, byte-identical to serializeSafetensors', async () => {
  const tensors = tinyLlamaTensors();
  await withTempDir((folder) => {
    writeShardedCheckpoint(folder, tensors, 100_000);
    const written = writeShardedCheckpoint(folder, tensors, 5_000_000_000);
    assert.equal(written.indexFile, undefined);
    assert.deepEqual(fs.readdirSync(folder), ['model.safetensors'], 'previous shards and index removed');
    const bytes = new Uint8Array(fs.readFileSync(written.files[0]));
    assert.deepEqual(bytes, serializeSafetensors(tensors, { format: 'pt' }));
    assert.deepEqual(bytes, new Uint8Array(fs.readFileSync(peftFixture('models', 'tiny-llama', 'model.safetensors'))));
    const checkpoint = openCheckpoint(folder);
    assert.equal(checkpoint.indexMetadata, undefined);
    assert.deepEqual(checkpoint.tensorNames(), parseSafetensors(bytes).tensorNames());
    checkpoint.close();
  });
});

test('missing shard file: E_NOT_FOUND naming the file', async () => {
  await withTempDir((folder) => {
    writeShardedCheckpoint(folder, [bytesTensor('a', 8), bytesTensor('b', 8)], 8);
    const shard = path.join(folder, 'model-00002-of-00002.safetensors');
    fs.rmSync(shard);
    assertRoadsterError(() => openCheckpoint(folder), 'E_NOT_FOUND', shard, INDEX_FILE_NAME);
  });
});

test('tensor listed in the index but absent from its shard: E_SAFETENSORS', async () => {
  await withTempDir((folder) => {
    writeShardedCheckpoint(folder, [bytesTensor('a', 8), bytesTensor('b', 8)], 8);
    const indexPath = path.join(folder, INDEX_FILE_NAME);
    const index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
    index.weight_map.ghost = 'model-00001-of-00002.safetensors';
    fs.writeFileSync(indexPath, JSON.stringify(index));
    assertRoadsterError(() => openCheckpoint(folder), 'E_SAFETENSORS', 'model-00001-of-00002.safetensors', '"ghost"');
  });
});

test('broken folders: no checkpoint, bad index JSON, shard path escaping the folder', async () => {
  await withTempDir((folder) => {
    assertRoadsterError(() => openCheckpoint(folder), 'E_NOT_FOUND', 'model.safetensors', INDEX_FILE_NAME);
    const indexPath = path.join(folder, INDEX_FILE_NAME);
    fs.writeFileSync(indexPath, '{"weight_map": ');
    assertRoadsterError(() => openCheckpoint(folder), 'E_SAFETENSORS', indexPath, 'not valid JSON');
    fs.writeFileSync(indexPath, '{"metadata": {}}');
    assertRoadsterError(() => openCheckpoint(folder), 'E_SAFETENSORS', 'no "weight_map"');
    fs.writeFileSync(indexPath, '{"weight_map": {"w": "../model.safetensors"}}');
    assertRoadsterError(() => openCheckpoint(folder), 'E_SAFETENSORS', '"w"', '../model.safetensors');
  });
});

test('pythonJsonDumps writes what json.dumps(indent=2, sort_keys=True) writes', () => {
  assert.equal(pythonJsonDumps({}), '{}');
  assert.equal(pythonJsonDumps({ b: [], a: [1, true, null] }), '{\n  "a": [\n    1,\n    true,\n    null\n  ],\n  "b": []\n}');
  // ensure_ascii: non-ASCII and DEL escaped, astral characters as surrogate pairs, keys by code point.
  const escaped = pythonJsonDumps({ '😀': 'é\u007f', '\uFF5E': '"\\\n\u0001' });
  assert.equal(escaped, '{\n  "\\uff5e": "\\"\\\\\\n\\u0001",\n  "\\ud83d\\ude00": "\\u00e9\\u007f"\n}');
});
