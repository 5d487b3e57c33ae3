namespace Lrml.Models;

/// <summary>
/// The checkpoint format of Lrml.Fast's fused embedding engine: magic, version, shape "model|users×items|user width|item
/// width|dense width|optimiser", step count, then P, Q and the dense parameters (unpadded rows, float32), then the
/// optimiser's moments. Defined here so that NeuMF pre-training can take the weights of a GMF run trained on that engine.
/// </summary>
internal static class EmbeddingState
{
    public const string Magic = "LRML-EMBEDDING-ENGINE";
    public const int Version = 1;

    /// <summary>The weights of a fused-engine state of <paramref name="model"/> (P: users × user width, Q: items × item width,
    /// dense), or null when <paramref name="state"/> is not one.</summary>
    public static (int Users, int Items, float[] P, float[] Q, float[] Dense)? ReadWeights(byte[] state, string model)
    {
        using var r = new BinaryReader(new MemoryStream(state));
        try
        {
            if (r.ReadString() != Magic || r.ReadInt32() != Version) return null;
            var shape = r.ReadString().Split('|');
            if (shape.Length != 6 || shape[0] != model) return null;
            var ui = shape[1].Split('x');
            int users = int.Parse(ui[0]), items = int.Parse(ui[1]), uw = int.Parse(shape[2]), iw = int.Parse(shape[3]), nd = int.Parse(shape[4]);
            r.ReadInt64();
            float[] Read(long n) { var a = new float[n]; for (long x = 0; x < n; x++) a[x] = r.ReadSingle(); return a; }
            return (users, items, Read((long)users * uw), Read((long)items * iw), Read(nd));
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or IndexOutOfRangeException or IOException)
        {
            throw new InvalidDataException($"Truncated or damaged {model} state of the fused engine ({e.Message}).", e);
        }
    }
}
