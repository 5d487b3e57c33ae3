using System.Buffers.Binary;
using System.IO.Compression;
using Lrml.Reproduction.Plots;

namespace Lrml.Tests.Reproduction.Plots;

public class PngImageTests
{
    /// <summary>Encodes a PNG (bit depth 8) applying the given filter per row, following the PNG specification.</summary>
    private static byte[] Encode(int width, int height, int colorType, byte[] samples, int[] filters, byte[]? palette = null, byte[]? trns = null)
    {
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int stride = width * channels;
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte((byte)filters[y]);
            for (int i = 0; i < stride; i++)
            {
                int x = samples[y * stride + i];
                int a = i >= channels ? samples[y * stride + i - channels] : 0;
                int b = y > 0 ? samples[(y - 1) * stride + i] : 0;
                int c = y > 0 && i >= channels ? samples[(y - 1) * stride + i - channels] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                int predictor = filters[y] switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, _ => paeth };
                raw.WriteByte((byte)(x - predictor));
            }
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zs.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = (byte)colorType;
        Chunk(png, "IHDR", ihdr);
        if (palette is not null) Chunk(png, "PLTE", palette);
        if (trns is not null) Chunk(png, "tRNS", trns);
        var data = z.ToArray();
        Chunk(png, "IDAT", data[..(data.Length / 2)]);   // image data split over two IDAT chunks
        Chunk(png, "IDAT", data[(data.Length / 2)..]);
        Chunk(png, "IEND", []);
        return png.ToArray();

        static void Chunk(Stream s, string type, byte[] payload)
        {
            var len = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(len, payload.Length);
            s.Write(len); s.Write(System.Text.Encoding.ASCII.GetBytes(type)); s.Write(payload);
            s.Write(new byte[4]); // CRC (not checked by the reader)
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Rgba_EveryFilterDecodesToTheOriginalPixels(int filter)
    {
        int w = 3, h = 3;
        var samples = new byte[w * h * 4];
        for (int i = 0; i < samples.Length; i++) samples[i] = (byte)(i * 37 + 11);
        var image = PngImage.Decode(Encode(w, h, 6, samples, [0, filter, filter]));
        Assert.Equal(w, image.Width);
        Assert.Equal(h, image.Height);
        Assert.Equal(samples, image.Rgba);
    }

    [Fact]
    public void RgbGreyAndPalette_ExpandToRgba()
    {
        var rgb = PngImage.Decode(Encode(2, 1, 2, [255, 0, 0, 10, 20, 30], [1]));
        Assert.Equal(new byte[] { 255, 0, 0, 255, 10, 20, 30, 255 }, rgb.Rgba);
        var grey = PngImage.Decode(Encode(2, 1, 0, [0, 200], [0]));
        Assert.Equal(new byte[] { 0, 0, 0, 255, 200, 200, 200, 255 }, grey.Rgba);
        var pal = PngImage.Decode(Encode(2, 1, 3, [1, 0], [0], palette: [1, 2, 3, 40, 50, 60], trns: [0]));
        Assert.Equal(new byte[] { 40, 50, 60, 255, 1, 2, 3, 0 }, pal.Rgba);
    }

    [Fact]
    public void Counts_WhiteTextAndColour()
    {
        // white, black text, a plotly plot background (229, 236, 246), a red trace, a transparent pixel
        var image = PngImage.Decode(Encode(5, 1, 6, [255, 255, 255, 255, 0, 0, 0, 255, 229, 236, 246, 255, 239, 85, 59, 255, 9, 9, 9, 0], [0]));
        Assert.Equal(3, image.CountNonWhite());     // black, plot background, red
        Assert.Equal(2, image.CountChromatic());    // plot background, red (black is achromatic)
    }

    [Fact]
    public void BadFiles_NameTheReason()
    {
        var ex = Assert.Throws<InvalidDataException>(() => PngImage.Decode("GIF89a....."u8));
        Assert.Contains("signature", ex.Message);
        var png = Encode(1, 1, 2, [1, 2, 3], [0]);
        png[8 + 8 + 8] = 16; // IHDR bit depth
        Assert.Contains("bit depth 16", Assert.Throws<InvalidDataException>(() => PngImage.Decode(png)).Message);
        var truncated = Encode(4, 4, 2, new byte[48], [0, 0, 0, 0])[..40];
        Assert.Throws<InvalidDataException>(() => PngImage.Decode(truncated));
    }
}
