using System.Runtime.Intrinsics;
using Lrml.Fast;
using Lrml.Models;
using Lrml.Util;
using T = System.Numerics.Tensors.TensorPrimitives;

namespace Lrml.Tests.Fast;

/// <summary>
/// The BPR-MF, CML and GMF kernels compute their gradient rows in one pass over the floats. They must equal, bit for bit,
/// the span-at-a-time form they replaced (one TensorPrimitives call per term, written out here as the reference; its sums
/// and dots through FusedMath, which FusedMathFormTests pins to TensorPrimitives' AVX-512 order on every machine), so
/// that every earlier fused run is still the same computation: for dimensions on whole vectors and with a scalar tail,
/// one and several negatives, with and without bias/L2, with no, some and all hinges active — and nothing written past
/// each gradient row's own floats; the kernels read the item rows where they lie in the table (out of order here). CML leaves the rows of inactive hinges unwritten and marks them not live (the engine
/// then skips them): each such row must be one the reference computes as zero.
/// </summary>
public class KernelFormTests
{
    private const int Stride = 72;   // rows padded beyond the widest tested row (65 floats): the padding must stay untouched
    private const float Sentinel = 12345f;

    private static float[] Random(int n, long seed, float scale)
    {
        var rng = new Rng(seed, "test.kernel.form");
        return Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() - 0.5) * 2 * scale)).ToArray();
    }

    private static (double Loss, float[] Gp, float[] Gq, float[] Gd, bool[] Live) Run(EmbeddingKernel k, float[] p, float[] q, float[] dense, int count, float coef, float[] gdStart)
    {
        var gp = Enumerable.Repeat(Sentinel, Stride).ToArray();
        var gq = Enumerable.Repeat(Sentinel, Stride * count).ToArray();
        var gd = (float[])gdStart.Clone();
        var live = Enumerable.Repeat(true, count).ToArray();   // as the engine hands it over
        // the kernel reads item row j in place at rows[j] of the item table: here in reverse order, off the vector grid, inside
        // a table of other values (the reference reads q's rows side by side)
        var table = Random((count + 2) * Stride + 5, 999, 9f);
        var rows = Enumerable.Range(0, count).Select(j => (count - j) * Stride + 5).ToArray();
        for (int j = 0; j < count; j++) q.AsSpan(j * Stride, Stride).CopyTo(table.AsSpan(rows[j]));
        double loss = k.Example(p.AsSpan(0, k.UserWidth), table, rows, Stride, count, dense, coef, gp.AsSpan(0, k.UserWidth), gq, live, gd);
        return (loss, gp, gq, gd, live);
    }

    /// <summary>The kernel's output equals the reference bit for bit; an item row it marked not live must be one the
    /// reference computed as zero, and the kernel must have left it unwritten (its sentinels intact).</summary>
    private static void Same((double Loss, float[] Gp, float[] Gq, float[] Gd, bool[] Live) a, (double Loss, float[] Gp, float[] Gq, float[] Gd) b, string what)
    {
        Assert.True(BitConverter.DoubleToInt64Bits(a.Loss) == BitConverter.DoubleToInt64Bits(b.Loss), $"{what}: loss {a.Loss:R} vs {b.Loss:R}");
        var expectedGq = (float[])b.Gq.Clone();
        for (int j = 0; j < a.Live.Length; j++)
        {
            if (a.Live[j]) continue;
            var row = expectedGq.AsSpan(j * Stride, Stride);
            for (int x = 0; x < row.Length; x++)
                Assert.True(row[x] == 0f || row[x] == Sentinel, $"{what}: item row {j} marked not live, but its gradient [{x}] is {row[x]}");
            row.Fill(Sentinel);
        }
        Assert.Equal(Bits(b.Gp), Bits(a.Gp)); Assert.Equal(Bits(expectedGq), Bits(a.Gq)); Assert.Equal(Bits(b.Gd), Bits(a.Gd));   // sentinels included
    }

    private static int[] Bits(float[] x) => x.Select(BitConverter.SingleToInt32Bits).ToArray();   // −0 ≠ +0, as the bits

    public static TheoryData<int, int, bool, float> BprCases() => new()
    {
        { 64, 2, false, 0f }, { 64, 2, true, 0.01f }, { 20, 4, false, 0.05f }, { 5, 3, true, 0.02f }, { 13, 2, false, 0.01f },
    };

    [Theory]
    [MemberData(nameof(BprCases))]
    public void BprEqualsTheSpanForm(int d, int count, bool bias, float l2)
    {
        var c = new BprConfig { Dim = d, ItemBias = bias, L2 = l2 };
        int w = d + (bias ? 1 : 0);
        var k = new BprKernel(c) { UserWidth = d, ItemWidth = w, Optimizer = OptimizerKind.Adam, LearningRate = 0.01f, Config = c };
        for (long seed = 1; seed <= 4; seed++)
        {
            var p = Random(d, seed, 0.5f); var q = Random(Stride * count, seed + 100, 0.5f);
            var got = Run(k, p, q, [], count, 1f, []);
            Assert.All(got.Live, Assert.True);   // BPR-MF writes every row
            // the removed code, as it was
            var gp = Enumerable.Repeat(Sentinel, Stride).ToArray(); var gq = Enumerable.Repeat(Sentinel, Stride * count).ToArray();
            float X(ReadOnlySpan<float> qq) => FusedMath.Dot(p, qq[..d]) + (bias ? qq[d] : 0f);
            int kk = count - 1;
            var q0 = q.AsSpan(0, w);
            float x0 = X(q0), sum = 0;
            double loss = 0, reg = kk * ((double)FusedMath.SumOfSquares(p) + FusedMath.SumOfSquares(q0));
            var gpd = gp.AsSpan(0, d);
            T.Multiply(p, l2 * kk, gpd);
            for (int j = 1; j < count; j++)
            {
                var qj = q.AsSpan(j * Stride, w); var gj = gq.AsSpan(j * Stride, w);
                float diff = X(qj) - x0, g = (float)(1.0 / (1.0 + Math.Exp(-diff)));
                loss += diff > 20f ? diff : Math.Log(1.0 + Math.Exp(diff));
                reg += FusedMath.SumOfSquares(qj);
                sum += g;
                T.MultiplyAdd(qj[..d], g, gpd, gpd);
                T.Multiply(qj, l2, gj);
                T.MultiplyAdd(p, g, gj[..d], gj[..d]);
                if (bias) gj[d] += g;
            }
            T.MultiplyAdd(q0[..d], -sum, gpd, gpd);
            var g0 = gq.AsSpan(0, w);
            T.Multiply(q0, l2 * kk, g0);
            T.MultiplyAdd(p, -sum, g0[..d], g0[..d]);
            if (bias) g0[d] -= sum;
            Same(got, (l2 > 0 ? loss + 0.5 * l2 * reg : loss, gp, gq, []), $"BPR d={d} count={count} bias={bias} l2={l2} seed={seed}");
        }
    }

    [Theory]
    [InlineData(64, 2)]
    [InlineData(20, 4)]
    [InlineData(13, 3)]
    public void CmlEqualsTheSpanForm(int d, int count)
    {
        var c = new CmlConfig { Dim = d, Margin = 0.5f };
        var k = new CmlKernel(c) { UserWidth = d, ItemWidth = d, ProjectRows = true, Optimizer = OptimizerKind.Adam, LearningRate = 0.01f, Config = c };
        int active = 0, inactive = 0;
        for (long seed = 1; seed <= 12; seed++)
        {
            var p = Random(d, seed, 0.3f); var q = Random(Stride * count, seed + 100, 0.3f);
            if (seed % 4 == 0) for (int x = 0; x < d; x++) q[x] = p[x] + 0.5f;   // the positive far away: every hinge active
            if (seed % 4 == 1) for (int x = 0; x < d; x++) q[x] = p[x];          // the positive on the user: most hinges inactive
            var got = Run(k, p, q, [], count, 1f, []);
            var gp = Enumerable.Repeat(Sentinel, Stride).ToArray(); var gq = Enumerable.Repeat(Sentinel, Stride * count).ToArray();
            var diff = new float[d];
            float Dist(ReadOnlySpan<float> qq) { T.Subtract(p, qq, diff); return FusedMath.SumOfSquares(diff); }
            var q0 = q.AsSpan(0, d);
            float d0 = Dist(q0);
            double loss = 0;
            int a = 0;
            var gpd = gp.AsSpan(0, d);
            gpd.Clear();
            for (int j = 1; j < count; j++)
            {
                var qj = q.AsSpan(j * Stride, d); var gj = gq.AsSpan(j * Stride, d);
                float h = d0 - Dist(qj) + c.Margin;
                if (h >= 0f) { loss += h; a++; T.Multiply(diff, 2f, gj); T.Add(gpd, qj, gpd); }
                else gj.Clear();
            }
            var g0 = gq.AsSpan(0, d);
            if (a == 0) g0.Clear();
            else
            {
                T.MultiplyAdd(q0, -a, gpd, gpd);
                T.Multiply(gpd, 2f, gpd);
                T.Subtract(p, q0, g0);
                T.Multiply(g0, -2f * a, g0);
            }
            active += a; inactive += count - 1 - a;
            for (int j = 1; j < count; j++) Assert.Equal(a > 0 && d0 - Dist(q.AsSpan(j * Stride, d)) + c.Margin >= 0f, got.Live[j]);
            Assert.Equal(a > 0, got.Live[0]);
            Same(got, (loss, gp, gq, []), $"CML d={d} count={count} seed={seed}");
        }
        Assert.True(active > 0 && inactive > 0, "the cases must have active and inactive hinges");
    }

    [Theory]
    [InlineData(32, 5, 0f, LossReduction.Mean)]
    [InlineData(16, 2, 0.01f, LossReduction.Sum)]
    [InlineData(13, 4, 0.001f, LossReduction.Mean)]
    public void GmfEqualsTheSpanForm(int d, int count, float l2, LossReduction reduction)
    {
        var c = new GmfConfig { Dim = d, L2 = l2, Reduction = reduction };
        var k = new GmfKernel(c) { UserWidth = d, ItemWidth = d, DenseWidth = d + 1, Optimizer = OptimizerKind.Adam, LearningRate = 0.01f, Config = c };
        float coef = k.Coefficient(64, count - 1);
        for (long seed = 1; seed <= 4; seed++)
        {
            var p = Random(d, seed, 0.5f); var q = Random(Stride * count, seed + 100, 0.5f);
            var dense = Random(d + 1, seed + 200, 1f); var gdStart = Random(d + 1, seed + 300, 0.1f);   // the chunk's sum so far
            var got = Run(k, p, q, dense, count, coef, gdStart);
            Assert.All(got.Live, Assert.True);   // GMF writes every row
            var gp = Enumerable.Repeat(Sentinel, Stride).ToArray(); var gq = Enumerable.Repeat(Sentinel, Stride * count).ToArray();
            var gd = (float[])gdStart.Clone();
            var h = dense.AsSpan(0, d);
            var ph = new float[d].AsSpan(); var tmp = new float[d].AsSpan();
            T.Multiply(p, h, ph);
            var gpd = gp.AsSpan(0, d);
            T.Multiply(p, 2f * l2 * coef * count, gpd);
            double loss = 0;
            for (int j = 0; j < count; j++)
            {
                var qj = q.AsSpan(j * Stride, d); var gj = gq.AsSpan(j * Stride, d);
                float z = FusedMath.Dot(ph, qj) + dense[d];
                float zz = j == 0 ? -z : z;
                loss += zz > 20f ? zz : Math.Log(1.0 + Math.Exp(zz));
                float g = coef * (j == 0 ? -(float)(1.0 / (1.0 + Math.Exp(z))) : (float)(1.0 / (1.0 + Math.Exp(-z))));
                T.Multiply(qj, 2f * l2 * coef, gj);
                T.MultiplyAdd(ph, g, gj, gj);
                T.Multiply(qj, h, tmp);
                T.MultiplyAdd(tmp, g, gpd, gpd);
                T.Multiply(p, qj, tmp);
                T.MultiplyAdd(tmp, g, gd.AsSpan(0, d), gd.AsSpan(0, d));
                gd[d] += g;
            }
            Same(got, (loss, gp, gq, gd), $"GMF d={d} count={count} l2={l2} {reduction} seed={seed}");
        }
    }
}

/// <summary>
/// FusedMath's inline SumOfSquares, Norm, SquaredDistance and Dot stand in for TensorPrimitives in the kernels and the unit-ball
/// projection, so they must equal what it computes on an AVX-512 machine bit for bit on every length (the inline form covers
/// 16–128 floats, a masked tail included; the rest is TensorPrimitives itself), on AVX2 machines too. The inputs spread over six
/// orders of magnitude, so that a different summation order shows: the test checks that it does (a plain left-to-right sum
/// differs on some of them); some are ±0, and an all −0 dot product must come out +0 as TensorPrimitives' does.
/// </summary>
public class FusedMathFormTests
{
    /// <summary>FusedMath's sums of squares, norms, squared distances and dots are TensorPrimitives' as it computes them with
    /// AVX-512, bit for bit, on every length 1 – 200. For 16 – 128 floats the reference is that order written out in scalar
    /// code (<see cref="Order512"/>), on every machine with 256-bit vectors: on an AVX-512 machine it must equal
    /// TensorPrimitives itself (which pins the written-out order to the library's), and FusedMath must equal it on AVX2
    /// machines too, where TensorPrimitives sums on 256-bit vectors in another order. Other lengths: TensorPrimitives.</summary>
    [Fact]
    public void SumOfSquaresNormDistanceAndDotEqualTensorPrimitivesBitForBit()
    {
        var rng = new Rng(7, "test.fused.math.form");
        float Draw() => rng.NextDouble() switch   // mostly spread values; some ±0 (the sign of a zero sum must match too)
        {
            < 0.04 => 0f,
            < 0.08 => -0f,
            _ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.NextDouble() * 6 - 3)),
        };
        // the lengths FusedMath sums in the 512-bit order itself (with AVX2 and with AVX-512); the others go to TensorPrimitives
        static bool Written512(int n) => Vector256.IsHardwareAccelerated && n is >= 16 and <= 128;
        float Want(float tp, int n, Func<int, float> term)
        {
            if (!Written512(n)) return tp;
            float w = Order512(n, term);
            if (Vector512.IsHardwareAccelerated)   // TensorPrimitives' own 512-bit order is the written-out one
                Assert.True(BitConverter.SingleToInt32Bits(tp) == BitConverter.SingleToInt32Bits(w), $"n {n}: TensorPrimitives {tp}, written-out order {w}");
            return w;
        }
        int orderShows = 0;
        for (int n = 1; n <= 200; n++)
            for (int rep = 0; rep < 40; rep++)
            {
                var p = Enumerable.Range(0, n).Select(_ => Draw()).ToArray();
                var q = Enumerable.Range(0, n + 3).Select(_ => Draw()).ToArray();   // longer than p: only its first n count
                var diff = new float[n];
                T.Subtract(p, q.AsSpan(0, n), diff);
                float want = Want(T.SumOfSquares(diff), n, i => (p[i] - q[i]) * (p[i] - q[i]));
                float squares = Want(T.SumOfSquares(p), n, i => p[i] * p[i]);
                Assert.Equal(BitConverter.SingleToInt32Bits(squares), BitConverter.SingleToInt32Bits(FusedMath.SumOfSquares(p)));
                Assert.Equal(BitConverter.SingleToInt32Bits(Written512(n) ? MathF.Sqrt(squares) : T.Norm(p)), BitConverter.SingleToInt32Bits(FusedMath.Norm(p)));
                Assert.Equal(BitConverter.SingleToInt32Bits(want), BitConverter.SingleToInt32Bits(FusedMath.SquaredDistance(p, q, new float[n])));
                Assert.Equal(BitConverter.SingleToInt32Bits(Want(T.Dot(p, q.AsSpan(0, n)), n, i => p[i] * q[i])), BitConverter.SingleToInt32Bits(FusedMath.Dot(p, q)));
                if (rep == 0)   // all products −0 (+0 · −x): TensorPrimitives' sum is +0
                {
                    var zeros = new float[n]; var negs = Enumerable.Repeat(-1f, n).ToArray();
                    Assert.Equal(BitConverter.SingleToInt32Bits(Want(T.Dot(zeros, negs), n, i => zeros[i] * negs[i])), BitConverter.SingleToInt32Bits(FusedMath.Dot(zeros, negs)));
                }
                float plain = 0;
                foreach (float x in diff) plain += x * x;
                if (plain != want) orderShows++;
            }
        Assert.True(orderShows > 100, $"the inputs must tell summation orders apart (a left-to-right sum differed on {orderShows})");
    }

    /// <summary>TensorPrimitives' 512-bit order over terms 0..n−1, 16 ≤ n ≤ 128, in scalar code: the first 16 terms into 16
    /// lanes from +0, each further whole 16 added lane-wise, the last 16 floats with all but the trailing n mod 16 as +0; then
    /// Vector512.Sum's order, each half of 8 lanes as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) and the halves added
    /// (the runtime sums a 512-bit vector so whether or not the processor has 512-bit vectors; on the Zen 3 machine of 12-04
    /// this tree and Vector512.Sum agreed on 200,000 random vectors out of 200,000).</summary>
    private static float Order512(int n, Func<int, float> term)
    {
        var lanes = new float[16];
        for (int j = 0; j < 16; j++) lanes[j] = 0f + term(j);
        int whole = n / 16 * 16;
        for (int v = 16; v < whole; v += 16)
            for (int j = 0; j < 16; j++) lanes[j] += term(v + j);
        if (whole < n)
            for (int j = 0; j < 16; j++) lanes[j] += j >= 16 - (n - whole) ? term(n - 16 + j) : 0f;
        float Half(int h) => ((lanes[h] + lanes[h + 1]) + (lanes[h + 2] + lanes[h + 3])) + ((lanes[h + 4] + lanes[h + 5]) + (lanes[h + 6] + lanes[h + 7]));
        return Half(0) + Half(8);
    }

    /// <summary>TransCF's neighbourhood means and row gradients sum rows with <see cref="FusedMath.SumRows"/>: it must equal
    /// clearing the destination and adding the rows one by one with TensorPrimitives.Add (the loop it replaced), bit for bit, for
    /// every width 1–150 (the 512-bit path from 16, with the overlapping last vector, and the scalar path below), sources
    /// from both tables in any order and repeated, lists of one row, sums of −0s (+0), ±∞ and NaN, and leave the floats after
    /// the destination's d untouched.</summary>
    [Fact]
    public void SumRowsEqualsAddingRowByRowBitForBit()
    {
        var rng = new Rng(11, "test.fused.math.sumrows");
        float Draw() => rng.NextDouble() switch
        {
            < 0.05 => -0f,
            < 0.07 => 0f,
            < 0.075 => float.PositiveInfinity,
            < 0.08 => float.NegativeInfinity,
            < 0.085 => float.NaN,
            _ => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.NextDouble() * 8 - 4)),
        };
        for (int d = 1; d <= 150; d++)
        {
            const int rowsA = 7, rowsB = 5, split = rowsA;
            var a = Enumerable.Range(0, rowsA * d).Select(_ => Draw()).ToArray();
            var b = Enumerable.Range(0, rowsB * d).Select(_ => Draw()).ToArray();
            int[][] lists =
            [
                [3], [9], [0, 1, 2, 3, 4, 5, 6], [11, 2, 8, 2, 2, 10, 0, 7, 7], [.. Enumerable.Range(0, 40).Select(_ => rng.NextInt(rowsA + rowsB))],
            ];
            foreach (var list in lists)
            {
                var want = new float[d];
                foreach (int v in list)
                {
                    var row = v < split ? a.AsSpan(v * d, d) : b.AsSpan((v - split) * d, d);
                    T.Add(row, want, want);
                }
                var got = Enumerable.Repeat(Sentinel, d + 20).ToArray();
                FusedMath.SumRows(ref a[0], ref b[0], split, list, d, ref got[0]);
                for (int i = 0; i < d; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(want[i]) == BitConverter.SingleToInt32Bits(got[i]),
                        $"d {d}, sources [{string.Join(",", list)}], float {i}: {got[i]} vs {want[i]}");
                Assert.All(got.Skip(d), x => Assert.Equal(Sentinel, x));
            }
            var negZeros = Enumerable.Repeat(-0f, 2 * d).ToArray();   // −0 + −0 is −0, but the sum starts from +0
            var z = new float[d];
            FusedMath.SumRows(ref negZeros[0], ref negZeros[0], int.MaxValue, [0, 1], d, ref z[0]);
            Assert.All(z, x => Assert.Equal(0, BitConverter.SingleToInt32Bits(x)));
        }
    }

    private const float Sentinel = 12345f;

    /// <summary>
    /// The small GEMM behind the NCF towers, LRML's attention and full ranking: every C element is one fused multiply-add
    /// chain over x in order, whatever the tile, the vector width (512-bit tiles, an 8-column remainder on 256-bit ones)
    /// or the strides (Aᵀ reads), so it equals the scalar chain bit for bit — which is what keeps every earlier fused run
    /// the same computation. Rows 1 – 9 (4-row tiles and single rows), 8 – 72 columns, inner 0 – 70, with and without
    /// accumulating into C; nothing outside the C block is written.
    /// </summary>
    [Fact]
    public void GemmEqualsTheScalarFusedMultiplyAddChainBitForBit()
    {
        var rng = new Rng(13, "test.fused.gemm");
        float Draw() => (float)((rng.NextDouble() - 0.5) * Math.Pow(10, rng.NextDouble() * 4 - 2));
        int checkedCells = 0;
        foreach (int cols in new[] { 8, 16, 24, 32, 40, 48, 56, 64, 72 })
            foreach (int rows in new[] { 1, 3, 4, 5, 8, 9 })
                foreach (int inner in new[] { 0, 1, 7, 16, 70 })
                    foreach (bool transposed in new[] { false, true })
                        foreach (bool accumulate in new[] { false, true })
                        {
                            // A(r, x) = a[r·ars + x·axs]: row-major (ars = inner + 3) or read transposed (axs = rows + 2)
                            int ars = transposed ? 1 : inner + 3, axs = transposed ? rows + 2 : 1;
                            var a = Enumerable.Range(0, (rows + 2) * (inner + 3) + 4).Select(_ => Draw()).ToArray();
                            int ldb = cols + 8, ldc = cols + 16;
                            var b = Enumerable.Range(0, Math.Max(1, inner) * ldb).Select(_ => Draw()).ToArray();
                            var c = Enumerable.Range(0, rows * ldc).Select(_ => Draw()).ToArray();
                            var want = (float[])c.Clone();
                            for (int r = 0; r < rows; r++)
                                for (int col = 0; col < cols; col++)
                                {
                                    float acc = accumulate ? c[r * ldc + col] : 0f;
                                    for (int x = 0; x < inner; x++) acc = MathF.FusedMultiplyAdd(a[r * ars + x * axs], b[x * ldb + col], acc);
                                    want[r * ldc + col] = acc;
                                }
                            FusedMath.Gemm(ref a[0], ars, axs, ref b[0], ldb, ref c[0], ldc, rows, inner, cols, accumulate);
                            for (int i = 0; i < c.Length; i++)
                                if (BitConverter.SingleToInt32Bits(c[i]) != BitConverter.SingleToInt32Bits(want[i]))
                                    Assert.Fail($"rows {rows}, cols {cols}, inner {inner}, transposed {transposed}, accumulate {accumulate}: " +
                                                $"C[{i / ldc}, {i % ldc}] = {c[i]:R}, the chain gives {want[i]:R}");
                            checkedCells += rows * cols;
                        }
        Assert.True(checkedCells > 100_000);
    }
}
