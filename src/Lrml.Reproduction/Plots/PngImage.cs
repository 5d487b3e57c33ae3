using System.Buffers.Binary;
using System.IO.Compression;

namespace Lrml.Reproduction.Plots;

/// <summary>
/// A decoded PNG image as 8-bit RGBA pixels, for checking rendered charts and notebooks (is anything drawn?).
/// Reads what browsers write: bit depth 8, colour types greyscale, RGB, palette, greyscale + alpha and RGBA,
/// non-interlaced. Other files raise <see cref="InvalidDataException"/> naming the reason.
/// </summary>
internal sealed class PngImage
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Pixels, row-major, 4 bytes (R, G, B, A) per pixel.</summary>
    public byte[] Rgba { get; }

    private PngImage(int width, int height, byte[] rgba) { Width = width; Height = height; Rgba = rgba; }

    /// <summary>Reads a PNG file.</summary>
    public static PngImage Load(string path)
    {
        try { return Decode(File.ReadAllBytes(path)); }
        catch (InvalidDataException ex) { throw new InvalidDataException($"{path}: {ex.Message}", ex); }
    }

    /// <summary>Decodes PNG bytes.</summary>
    public static PngImage Decode(ReadOnlySpan<byte> png)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(Signature)) throw new InvalidDataException("not a PNG file (bad signature).");
        int pos = 8, width = 0, height = 0, colorType = -1;
        byte[]? palette = null, paletteAlpha = null;
        using var idat = new MemoryStream();
        bool seenEnd = false;
        while (pos + 8 <= png.Length && !seenEnd)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png[pos..]);
            if (length < 0 || pos + 12 + length > png.Length) throw new InvalidDataException($"truncated chunk at byte {pos}.");
            var type = png.Slice(pos + 4, 4);
            var data = png.Slice(pos + 8, length);
            if (type.SequenceEqual("IHDR"u8))
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                int depth = data[8]; colorType = data[9];
                if (depth != 8) throw new InvalidDataException($"bit depth {depth} is not supported (only 8).");
                if (data[12] != 0) throw new InvalidDataException("interlaced PNGs are not supported.");
                if (width <= 0 || height <= 0 || (long)width * height > 200_000_000) throw new InvalidDataException($"unreasonable size {width}×{height}.");
            }
            else if (type.SequenceEqual("PLTE"u8)) palette = data.ToArray();
            else if (type.SequenceEqual("tRNS"u8)) paletteAlpha = data.ToArray();
            else if (type.SequenceEqual("IDAT"u8)) idat.Write(data);
            else if (type.SequenceEqual("IEND"u8)) seenEnd = true;
            pos += 12 + length;
        }
        if (width == 0) throw new InvalidDataException("no IHDR chunk.");
        int channels = colorType switch
        {
            0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4,
            _ => throw new InvalidDataException($"colour type {colorType} is not supported."),
        };
        if (colorType == 3 && palette is null) throw new InvalidDataException("palette image without a PLTE chunk.");
        int stride = width * channels;
        var raw = new byte[(long)height * (stride + 1)];
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress))
        {
            int read = 0;
            while (read < raw.Length)
            {
                int n = z.Read(raw, read, raw.Length - read);
                if (n == 0) throw new InvalidDataException($"image data ends after {read} of {raw.Length} bytes.");
                read += n;
            }
        }
        var pixels = new byte[(long)height * stride];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[(long)y * (stride + 1)];
            var line = raw.AsSpan((int)((long)y * (stride + 1) + 1), stride);
            var cur = pixels.AsSpan(y * stride, stride);
            var prev = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : Span<byte>.Empty;
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? cur[i - channels] : 0;
                int b = y > 0 ? prev[i] : 0;
                int c = y > 0 && i >= channels ? prev[i - channels] : 0;
                int x = line[i];
                cur[i] = filter switch
                {
                    0 => (byte)x,
                    1 => (byte)(x + a),
                    2 => (byte)(x + b),
                    3 => (byte)(x + ((a + b) >> 1)),
                    4 => (byte)(x + Paeth(a, b, c)),
                    _ => throw new InvalidDataException($"unknown filter {filter} on row {y}."),
                };
            }
        }
        var rgba = new byte[(long)width * height * 4];
        for (int p = 0, q = 0; p < width * height; p++, q += 4)
        {
            int s = p * channels;
            switch (colorType)
            {
                case 0: rgba[q] = rgba[q + 1] = rgba[q + 2] = pixels[s]; rgba[q + 3] = 255; break;
                case 2: rgba[q] = pixels[s]; rgba[q + 1] = pixels[s + 1]; rgba[q + 2] = pixels[s + 2]; rgba[q + 3] = 255; break;
                case 3:
                    int idx = pixels[s];
                    if (3 * idx + 2 >= palette!.Length) throw new InvalidDataException($"palette index {idx} out of range.");
                    rgba[q] = palette[3 * idx]; rgba[q + 1] = palette[3 * idx + 1]; rgba[q + 2] = palette[3 * idx + 2];
                    rgba[q + 3] = paletteAlpha is not null && idx < paletteAlpha.Length ? paletteAlpha[idx] : (byte)255;
                    break;
                case 4: rgba[q] = rgba[q + 1] = rgba[q + 2] = pixels[s]; rgba[q + 3] = pixels[s + 1]; break;
                default: rgba[q] = pixels[s]; rgba[q + 1] = pixels[s + 1]; rgba[q + 2] = pixels[s + 2]; rgba[q + 3] = pixels[s + 3]; break;
            }
        }
        return new PngImage(width, height, rgba);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>Pixels that are not (near) white: some channel below 255 − <paramref name="tolerance"/> (transparent pixels count as white).</summary>
    public long CountNonWhite(int tolerance = 16)
    {
        long n = 0;
        int limit = 255 - tolerance;
        for (int q = 0; q < Rgba.Length; q += 4)
            if (Rgba[q + 3] > 0 && (Rgba[q] < limit || Rgba[q + 1] < limit || Rgba[q + 2] < limit)) n++;
        return n;
    }

    /// <summary>
    /// Pixels with colour (max − min channel above <paramref name="threshold"/>): plotted traces and plot backgrounds
    /// are coloured, while text, rules and an empty chart area are black, grey or white. A notebook page whose charts
    /// failed to draw has almost none.
    /// </summary>
    public long CountChromatic(int threshold = 8)
    {
        long n = 0;
        for (int q = 0; q < Rgba.Length; q += 4)
        {
            if (Rgba[q + 3] == 0) continue;
            int r = Rgba[q], g = Rgba[q + 1], b = Rgba[q + 2];
            int max = Math.Max(r, Math.Max(g, b)), min = Math.Min(r, Math.Min(g, b));
            if (max - min > threshold) n++;
        }
        return n;
    }
}
