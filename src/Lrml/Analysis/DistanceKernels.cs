using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lrml.Util;

namespace Lrml.Analysis;

/// <summary>
/// A set of rows packed for the distance kernels: blocks of <see cref="W"/> rows (W = Vector&lt;float&gt;.Count),
/// each block stored dimension-major (dim × W), so that one vector load gives one coordinate of W rows and a
/// query row is compared with W rows at once without horizontal sums. The last block is zero-padded.
/// </summary>
internal sealed class PackedRows
{
    /// <summary>Rows per block (the SIMD width).</summary>
    public static int W => Vector<float>.Count;

    /// <summary>Number of coordinates per row.</summary>
    public readonly int Dim;
    /// <summary>Number of packed (real) rows.</summary>
    public readonly int Count;
    /// <summary>Number of blocks; <c>Blocks × W ≥ Count</c>.</summary>
    public readonly int Blocks;
    /// <summary>Blocks × Dim × W values.</summary>
    public readonly float[] Data;
    /// <summary>Squared norm of each packed row (Blocks × W; 0 in the padding).</summary>
    public readonly float[] Norms;
    /// <summary>Original row index of each packed position (Count).</summary>
    public readonly int[] Rows;

    /// <summary>Padded row count (Blocks × W): the stride of kernel outputs.</summary>
    public int Padded => Blocks * W;

    public PackedRows(ReadOnlySpan<float> x, int dim, int[] rows)
    {
        Dim = dim;
        Count = rows.Length;
        Rows = rows;
        int w = W;
        Blocks = (Count + w - 1) / w;
        Data = new float[(long)Blocks * dim * w];
        Norms = new float[Blocks * w];
        for (int p = 0; p < Count; p++)
        {
            var row = x.Slice(rows[p] * dim, dim);
            int blk = p / w, lane = p % w;
            int baseIdx = blk * dim * w + lane;
            for (int d = 0; d < dim; d++) Data[baseIdx + d * w] = row[d];
            Norms[p] = SquaredNorm(row);
        }
    }

    /// <summary>Squared Euclidean norm, accumulated in double for stability.</summary>
    public static float SquaredNorm(ReadOnlySpan<float> row)
    {
        double s = 0;
        for (int d = 0; d < row.Length; d++) s += (double)row[d] * row[d];
        return (float)s;
    }
}

/// <summary>
/// Register-blocked distance kernels: four query rows against all packed rows, W packed rows per vector.
/// Each output value is computed by one fixed sequence of operations, so results do not depend on threading.
/// </summary>
internal static class DistanceKernels
{
    /// <summary>
    /// Exact squared Euclidean distances Σ_d (q_t[d] − p[d])² (difference form, no cancellation) from up to four
    /// query rows (start offsets into <paramref name="x"/>) to every packed row. Row t of the output starts at
    /// <c>t × stride</c>; entries beyond <see cref="PackedRows.Count"/> are padding. Query slots beyond
    /// <paramref name="queryRows"/> repeat the last query and are not written.
    /// </summary>
    public static void SquaredDistances(ReadOnlySpan<float> x, int dim, ReadOnlySpan<int> queryRows, PackedRows packed,
        Span<float> output, int stride)
    {
        int queries = queryRows.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float q0 = ref Unsafe.Add(ref xr, queryRows[0] * dim);
        ref float q1 = ref Unsafe.Add(ref xr, queryRows[Math.Min(1, queries - 1)] * dim);
        ref float q2 = ref Unsafe.Add(ref xr, queryRows[Math.Min(2, queries - 1)] * dim);
        ref float q3 = ref Unsafe.Add(ref xr, queryRows[Math.Min(3, queries - 1)] * dim);
        ref float data = ref MemoryMarshal.GetArrayDataReference(packed.Data);
        ref float o = ref MemoryMarshal.GetReference(output);
        int w = PackedRows.W;
        for (int blk = 0; blk < packed.Blocks; blk++)
        {
            var a0 = Vector<float>.Zero; var a1 = Vector<float>.Zero; var a2 = Vector<float>.Zero; var a3 = Vector<float>.Zero;
            nuint off = (nuint)((long)blk * dim * w);
            for (int d = 0; d < dim; d++, off += (nuint)w)
            {
                var b = Vector.LoadUnsafe(ref data, off);
                var t0 = b - new Vector<float>(Unsafe.Add(ref q0, d));
                var t1 = b - new Vector<float>(Unsafe.Add(ref q1, d));
                var t2 = b - new Vector<float>(Unsafe.Add(ref q2, d));
                var t3 = b - new Vector<float>(Unsafe.Add(ref q3, d));
                a0 = Vector.FusedMultiplyAdd(t0, t0, a0);
                a1 = Vector.FusedMultiplyAdd(t1, t1, a1);
                a2 = Vector.FusedMultiplyAdd(t2, t2, a2);
                a3 = Vector.FusedMultiplyAdd(t3, t3, a3);
            }
            nuint col = (nuint)(blk * w);
            a0.StoreUnsafe(ref o, col);
            if (queries > 1) a1.StoreUnsafe(ref o, col + (nuint)stride);
            if (queries > 2) a2.StoreUnsafe(ref o, col + (nuint)(2 * stride));
            if (queries > 3) a3.StoreUnsafe(ref o, col + (nuint)(3 * stride));
        }
    }

    /// <summary>
    /// Ranking keys <c>norm(p) + scale × (q_t · p)</c> from up to four query rows to every packed row (layout as in
    /// <see cref="SquaredDistances"/>). With centred data, the packed squared norms and scale −2 the key plus
    /// |q|² is the squared Euclidean distance; with unit rows, zero norms and scale −1 the key plus 1 is the
    /// cosine distance. Either way, sorting by key sorts by distance.
    /// </summary>
    public static void Keys(ReadOnlySpan<float> x, int dim, ReadOnlySpan<int> queryRows, PackedRows packed, bool useNorms,
        float scale, Span<float> output, int stride)
    {
        int queries = queryRows.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float q0 = ref Unsafe.Add(ref xr, queryRows[0] * dim);
        ref float q1 = ref Unsafe.Add(ref xr, queryRows[Math.Min(1, queries - 1)] * dim);
        ref float q2 = ref Unsafe.Add(ref xr, queryRows[Math.Min(2, queries - 1)] * dim);
        ref float q3 = ref Unsafe.Add(ref xr, queryRows[Math.Min(3, queries - 1)] * dim);
        ref float data = ref MemoryMarshal.GetArrayDataReference(packed.Data);
        ref float norms = ref MemoryMarshal.GetArrayDataReference(packed.Norms);
        ref float o = ref MemoryMarshal.GetReference(output);
        int w = PackedRows.W;
        var s = new Vector<float>(scale);
        for (int blk = 0; blk < packed.Blocks; blk++)
        {
            var a0 = Vector<float>.Zero; var a1 = Vector<float>.Zero; var a2 = Vector<float>.Zero; var a3 = Vector<float>.Zero;
            nuint off = (nuint)((long)blk * dim * w);
            for (int d = 0; d < dim; d++, off += (nuint)w)
            {
                var b = Vector.LoadUnsafe(ref data, off);
                a0 = Vector.FusedMultiplyAdd(b, new Vector<float>(Unsafe.Add(ref q0, d)), a0);
                a1 = Vector.FusedMultiplyAdd(b, new Vector<float>(Unsafe.Add(ref q1, d)), a1);
                a2 = Vector.FusedMultiplyAdd(b, new Vector<float>(Unsafe.Add(ref q2, d)), a2);
                a3 = Vector.FusedMultiplyAdd(b, new Vector<float>(Unsafe.Add(ref q3, d)), a3);
            }
            nuint col = (nuint)(blk * w);
            var nv = useNorms ? Vector.LoadUnsafe(ref norms, col) : Vector<float>.Zero;
            Vector.FusedMultiplyAdd(s, a0, nv).StoreUnsafe(ref o, col);
            if (queries > 1) Vector.FusedMultiplyAdd(s, a1, nv).StoreUnsafe(ref o, col + (nuint)stride);
            if (queries > 2) Vector.FusedMultiplyAdd(s, a2, nv).StoreUnsafe(ref o, col + (nuint)(2 * stride));
            if (queries > 3) Vector.FusedMultiplyAdd(s, a3, nv).StoreUnsafe(ref o, col + (nuint)(3 * stride));
        }
    }

    /// <summary>
    /// Full n × n matrix of exact squared Euclidean distances between the rows of x (diagonal exactly 0),
    /// computed in tiles of four rows on <paramref name="threads"/> threads.
    /// </summary>
    public static float[] PairwiseSquared(float[] x, int n, int dim, int threads)
    {
        var all = new int[n];
        for (int i = 0; i < n; i++) all[i] = i;
        var packed = new PackedRows(x, dim, all);
        var result = new float[(long)n * n];
        int tiles = (n + 3) / 4;
        Par.For(0, tiles, threads, () => new float[4 * packed.Padded], (tile, buf) =>
        {
            int start = tile * 4, count = Math.Min(4, n - start);
            Span<int> q = stackalloc int[count];
            for (int t = 0; t < count; t++) q[t] = start + t;
            SquaredDistances(x, dim, q, packed, buf, packed.Padded);
            for (int t = 0; t < count; t++)
            {
                var dst = result.AsSpan((start + t) * n, n);
                buf.AsSpan(t * packed.Padded, n).CopyTo(dst);
                dst[start + t] = 0f;
            }
        });
        return result;
    }
}
