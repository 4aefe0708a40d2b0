// Reads a WAV the way a player would, independently of src/security/captcha-audio.ts: the RIFF header, the `fmt `
// chunk and the `data` chunk, with the sizes each declares.
export interface WavInfo {
  riffSize: number;
  format: number;
  channels: number;
  sampleRate: number;
  byteRate: number;
  blockAlign: number;
  bitsPerSample: number;
  dataSize: number;
  durationSeconds: number;
  samples: Int16Array;
}

export function readWav(buffer: Buffer): WavInfo {
  if (buffer.toString('ascii', 0, 4) !== 'RIFF') throw new Error('no RIFF signature');
  if (buffer.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not WAVE');
  let fmt: Omit<WavInfo, 'riffSize' | 'dataSize' | 'durationSeconds' | 'samples'> | undefined;
  let offset = 12;
  while (offset + 8 <= buffer.length) {
    const id = buffer.toString('ascii', offset, offset + 4);
    const size = buffer.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      fmt = {
        format: buffer.readUInt16LE(body),
        channels: buffer.readUInt16LE(body + 2),
        sampleRate: buffer.readUInt32LE(body + 4),
        byteRate: buffer.readUInt32LE(body + 8),
        blockAlign: buffer.readUInt16LE(body + 12),
        bitsPerSample: buffer.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (!fmt) throw new Error('data before fmt');
      if (body + size > buffer.length) throw new Error(`data chunk declares ${size} bytes, file has ${buffer.length - body}`);
      const samples = new Int16Array(size / 2);
      for (let i = 0; i < samples.length; i += 1) samples[i] = buffer.readInt16LE(body + 2 * i);
      return { ...fmt, riffSize: buffer.readUInt32LE(4), dataSize: size, durationSeconds: size / fmt.byteRate, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error('no data chunk');
}
