using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using T = System.Numerics.Tensors.TensorPrimitives;

namespace Lrml.Fast;

/// <summary>
/// SIMD primitives of the fused engine over <c>ref float</c> rows whose length is a multiple of the
/// hardware vector width (<see cref="Vector{T}"/>: 8 floats with AVX2, 16 with AVX-512 when the runtime
/// is told to use it, 4 on ARM NEON). Callers pad rows with zeros to <see cref="Pad"/>, so these have no
/// tail loops, and zero padding stays zero through every operation used here (the optimiser step and the per-example
/// kernels, which unpadded TransCF rows reach, handle a tail themselves).
/// </summary>
internal static class FusedMath
{
    /// <summary>Floats per hardware vector.</summary>
    public static int W => Vector<float>.Count;

    /// <summary>n rounded up to a multiple of the vector width.</summary>
    public static int Pad(int n) => (n + W - 1) / W * W;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref float Ref(float[] a) => ref MemoryMarshal.GetArrayDataReference(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref float At(float[] a, nint offset) => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(a), offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref float At(ref float b, nint i) => ref Unsafe.Add(ref b, i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Ld(ref float b, nint i) => Vector.LoadUnsafe(ref b, (nuint)i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void St(Vector<float> v, ref float b, nint i) => v.StoreUnsafe(ref b, (nuint)i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Fma(Vector<float> a, Vector<float> b, Vector<float> c) => Vector.FusedMultiplyAdd(a, b, c);

    /// <summary>Σ a[i]·b[i].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ref float a, ref float b, int len)
    {
        var acc = Vector<float>.Zero;
        for (int i = 0; i < len; i += Vector<float>.Count) acc = Fma(Ld(ref a, i), Ld(ref b, i), acc);
        return Vector.Sum(acc);
    }

    /// <summary>Σ a[i]².</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumSq(ref float a, int len)
    {
        var acc = Vector<float>.Zero;
        for (int i = 0; i < len; i += Vector<float>.Count) { var x = Ld(ref a, i); acc = Fma(x, x, acc); }
        return Vector.Sum(acc);
    }

    /// <summary>Σ |a[i]|.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAbs(ref float a, int len)
    {
        var acc = Vector<float>.Zero;
        for (int i = 0; i < len; i += Vector<float>.Count) acc += Vector.Abs(Ld(ref a, i));
        return Vector.Sum(acc);
    }

    /// <summary>dst = src (len floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(ref float src, ref float dst, int len)
    {
        int i = 0;
        if (Wide512)
            for (; i + 16 <= len; i += 16) Vector512.LoadUnsafe(ref src, (nuint)i).StoreUnsafe(ref dst, (nuint)i);
        for (; i < len; i += Vector<float>.Count) St(Ld(ref src, i), ref dst, i);
    }

    /// <summary>dst = 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Zero(ref float dst, int len)
    {
        for (int i = 0; i < len; i += Vector<float>.Count) St(Vector<float>.Zero, ref dst, i);
    }

    /// <summary>dst = src / divisor (element-wise division, as x / max(‖x‖, 1) is written in the reference).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Divide(ref float src, float divisor, ref float dst, int len)
    {
        var dv = new Vector<float>(divisor);
        for (int i = 0; i < len; i += Vector<float>.Count) St(Ld(ref src, i) / dv, ref dst, i);
    }

    /// <summary>y += alpha·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float alpha, ref float x, ref float y, int len)
    {
        var va = new Vector<float>(alpha);
        for (int i = 0; i < len; i += Vector<float>.Count) St(Fma(va, Ld(ref x, i), Ld(ref y, i)), ref y, i);
    }

    /// <summary>y += a ⊙ b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddMul(ref float a, ref float b, ref float y, int len)
    {
        for (int i = 0; i < len; i += Vector<float>.Count) St(Fma(Ld(ref a, i), Ld(ref b, i), Ld(ref y, i)), ref y, i);
    }

    /// <summary>y += x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Add(ref float x, ref float y, int len)
    {
        int i = 0;
        if (Wide512)   // element-wise: 512-bit lanes give the same bits
            for (; i + 16 <= len; i += 16) (Vector512.LoadUnsafe(ref x, (nuint)i) + Vector512.LoadUnsafe(ref y, (nuint)i)).StoreUnsafe(ref y, (nuint)i);
        for (; i < len; i += Vector<float>.Count) St(Ld(ref x, i) + Ld(ref y, i), ref y, i);
    }

    /// <summary>
    /// dst[..d] = the sum, in list order and from +0, of the d-float rows the sources name: source v is row v of
    /// <paramref name="a"/> when v &lt; <paramref name="split"/>, else row v − split of <paramref name="b"/>. The same bits as
    /// clearing dst and adding each row with TensorPrimitives.Add (every float's sum has one order; 512-bit lanes or not),
    /// but the partial sums stay in registers across the list, 64 floats at a time, where that loop stored and reloaded dst
    /// once per row: TransCF's neighbourhood means and gradient sums, tens of thousands of rows a step, were bound by it.
    /// Needs d ≥ 16 for the 512-bit path (the last vector of a row overlaps the one before it, recomputing equal sums).
    /// </summary>
    public static void SumRows(ref float a, ref float b, int split, ReadOnlySpan<int> sources, int d, ref float dst)
    {
        if (!Lanes512 || d < 16)
        {
            for (int i = 0; i < d; i++) At(ref dst, i) = 0f;   // d floats exactly: dst may be a row of a table
            foreach (int v in sources)
            {
                ref float row = ref v < split ? ref At(ref a, (nint)v * d) : ref At(ref b, (nint)(v - split) * d);
                for (int i = 0; i < d; i++) At(ref dst, i) = At(ref row, i) + At(ref dst, i);
            }
            return;
        }
        int last = d - 16;
        for (int c = 0; c < d; c += 64)
        {
            nuint p0 = (nuint)Math.Min(c, last), p1 = (nuint)Math.Min(c + 16, last), p2 = (nuint)Math.Min(c + 32, last),
                p3 = (nuint)Math.Min(c + 48, last);
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;   // +0
            foreach (int v in sources)
            {
                ref float row = ref v < split ? ref At(ref a, (nint)v * d) : ref At(ref b, (nint)(v - split) * d);
                s0 = Vector512.LoadUnsafe(ref row, p0) + s0; s1 = Vector512.LoadUnsafe(ref row, p1) + s1;   // row + sum, as T.Add(row, dst)
                s2 = Vector512.LoadUnsafe(ref row, p2) + s2; s3 = Vector512.LoadUnsafe(ref row, p3) + s3;
            }
            s0.StoreUnsafe(ref dst, p0); s1.StoreUnsafe(ref dst, p1); s2.StoreUnsafe(ref dst, p2); s3.StoreUnsafe(ref dst, p3);
        }
    }

    /// <summary>y = alpha·y (len floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scale(ref float y, float alpha, int len)
    {
        var va = new Vector<float>(alpha);
        for (int i = 0; i < len; i += Vector<float>.Count) St(Ld(ref y, i) * va, ref y, i);
    }

    /// <summary>
    /// Attention forward for one pair: s = p ⊙ q; logits[n] = s·K[:,n]·invT (K stored transposed, kt row n; invT = 1/τ);
    /// a = softmax(logits); r = Σ a[n]·M[n]. logits/a have length np (padded, padding a = 0).
    /// </summary>
    public static void AttentionForward(ref float p, ref float q, ref float s, ref float logits, ref float a, ref float r,
        ref float kt, ref float m, int n, int np, int dp, float invT = 1f)
    {
        int vw = Vector<float>.Count;
        for (int i = 0; i < dp; i += vw) St(Ld(ref p, i) * Ld(ref q, i), ref s, i);
        int x = 0;
        for (; x + 4 <= n; x += 4)
        {
            ref float k0 = ref Unsafe.Add(ref kt, (nint)x * dp);
            ref float k1 = ref Unsafe.Add(ref k0, dp);
            ref float k2 = ref Unsafe.Add(ref k1, dp);
            ref float k3 = ref Unsafe.Add(ref k2, dp);
            Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int i = 0; i < dp; i += vw)
            {
                var sv = Ld(ref s, i);
                a0 = Fma(sv, Ld(ref k0, i), a0); a1 = Fma(sv, Ld(ref k1, i), a1);
                a2 = Fma(sv, Ld(ref k2, i), a2); a3 = Fma(sv, Ld(ref k3, i), a3);
            }
            Unsafe.Add(ref logits, x) = Vector.Sum(a0); Unsafe.Add(ref logits, x + 1) = Vector.Sum(a1);
            Unsafe.Add(ref logits, x + 2) = Vector.Sum(a2); Unsafe.Add(ref logits, x + 3) = Vector.Sum(a3);
        }
        for (; x < n; x++) Unsafe.Add(ref logits, x) = Dot(ref s, ref Unsafe.Add(ref kt, (nint)x * dp), dp);
        if (invT != 1f) for (int y = 0; y < n; y++) Unsafe.Add(ref logits, y) *= invT;
        Softmax(ref logits, ref a, n, np);
        for (int i = 0; i < dp; i += vw)
        {
            var acc = Vector<float>.Zero;
            ref float mi = ref Unsafe.Add(ref m, i);
            for (int y = 0; y < n; y++) acc = Fma(new Vector<float>(Unsafe.Add(ref a, y)), Ld(ref mi, (nint)y * dp), acc);
            St(acc, ref r, i);
        }
    }

    /// <summary>a = softmax(logits[0..n)), written to a[0..np) with zero padding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Softmax(ref float logits, ref float a, int n, int np)
    {
        float mx = logits;
        for (int y = 1; y < n; y++) mx = MathF.Max(mx, Unsafe.Add(ref logits, y));
        for (int y = n; y < np; y++) Unsafe.Add(ref logits, y) = float.NegativeInfinity;
        var vmx = new Vector<float>(mx);
        var sum = Vector<float>.Zero;
        int vw = Vector<float>.Count;
        for (int y = 0; y < np; y += vw)
        {
            var e = Vector.Exp(Ld(ref logits, y) - vmx);
            St(e, ref a, y);
            sum += e;
        }
        var vs = new Vector<float>(Vector.Sum(sum));
        for (int y = 0; y < np; y += vw) St(Ld(ref a, y) / vs, ref a, y);
    }

    /// <summary>
    /// Small GEMM: C[r·ldc + c] (+)= Σₓ A(r, x) · B[x·ldb + c] for r &lt; rows, x &lt; inner, c &lt; cols, where
    /// A(r, x) = a[r·ars + x·axs] (any strides, so Aᵀ works too) and cols is a multiple of the vector width.
    /// Register tile: 4 rows × 2 vectors (fits the 16 registers of AVX2; 512-bit vectors where the processor has them).
    /// Each C element is one fused multiply-add chain over x in order, so the result depends neither on how rows are
    /// split nor on the tile or vector width (FusedMathFormTests checks it against the scalar chain).
    /// </summary>
    public static void Gemm(ref float a, int ars, int axs, ref float b, int ldb, ref float c, int ldc,
        int rows, int inner, int cols, bool accumulate)
    {
        if (Wide512 && cols >= 16)
        {
            // Each C element is the same fused multiply-add chain over x whatever the tile or the vector width, so 512-bit
            // tiles give the same bits with half the instructions (measured: the GEMMs were 56 % of MLP's step on 256-bit
            // tiles); an 8-column remainder goes through the 256-bit tiles below.
            int wide = cols & ~15;
            Gemm512(ref a, ars, axs, ref b, ldb, ref c, ldc, rows, inner, wide, accumulate);
            if (wide == cols) return;
            b = ref Unsafe.Add(ref b, wide); c = ref Unsafe.Add(ref c, wide); cols -= wide;
        }
        int vw = Vector<float>.Count, r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            ref float a0 = ref Unsafe.Add(ref a, (nint)r * ars);
            ref float a1 = ref Unsafe.Add(ref a0, ars);
            ref float a2 = ref Unsafe.Add(ref a1, ars);
            ref float a3 = ref Unsafe.Add(ref a2, ars);
            ref float c0 = ref Unsafe.Add(ref c, (nint)r * ldc);
            ref float c1 = ref Unsafe.Add(ref c0, ldc);
            ref float c2 = ref Unsafe.Add(ref c1, ldc);
            ref float c3 = ref Unsafe.Add(ref c2, ldc);
            int col = 0;
            for (; col + 2 * vw <= cols; col += 2 * vw)
            {
                Vector<float> x00, x01, x10, x11, x20, x21, x30, x31;
                if (accumulate)
                {
                    x00 = Ld(ref c0, col); x01 = Ld(ref c0, col + vw); x10 = Ld(ref c1, col); x11 = Ld(ref c1, col + vw);
                    x20 = Ld(ref c2, col); x21 = Ld(ref c2, col + vw); x30 = Ld(ref c3, col); x31 = Ld(ref c3, col + vw);
                }
                else x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = Vector<float>.Zero;
                ref float bc = ref Unsafe.Add(ref b, col);
                for (int x = 0; x < inner; x++)
                {
                    nint ao = (nint)x * axs;
                    var b0 = Ld(ref bc, (nint)x * ldb); var b1 = Ld(ref bc, (nint)x * ldb + vw);
                    var s0 = new Vector<float>(Unsafe.Add(ref a0, ao)); x00 = Fma(s0, b0, x00); x01 = Fma(s0, b1, x01);
                    var s1 = new Vector<float>(Unsafe.Add(ref a1, ao)); x10 = Fma(s1, b0, x10); x11 = Fma(s1, b1, x11);
                    var s2 = new Vector<float>(Unsafe.Add(ref a2, ao)); x20 = Fma(s2, b0, x20); x21 = Fma(s2, b1, x21);
                    var s3 = new Vector<float>(Unsafe.Add(ref a3, ao)); x30 = Fma(s3, b0, x30); x31 = Fma(s3, b1, x31);
                }
                St(x00, ref c0, col); St(x01, ref c0, col + vw); St(x10, ref c1, col); St(x11, ref c1, col + vw);
                St(x20, ref c2, col); St(x21, ref c2, col + vw); St(x30, ref c3, col); St(x31, ref c3, col + vw);
            }
            for (; col < cols; col += vw)
            {
                Vector<float> x0, x1, x2, x3;
                if (accumulate) { x0 = Ld(ref c0, col); x1 = Ld(ref c1, col); x2 = Ld(ref c2, col); x3 = Ld(ref c3, col); }
                else x0 = x1 = x2 = x3 = Vector<float>.Zero;
                ref float bc = ref Unsafe.Add(ref b, col);
                for (int x = 0; x < inner; x++)
                {
                    nint ao = (nint)x * axs;
                    var b0 = Ld(ref bc, (nint)x * ldb);
                    x0 = Fma(new Vector<float>(Unsafe.Add(ref a0, ao)), b0, x0);
                    x1 = Fma(new Vector<float>(Unsafe.Add(ref a1, ao)), b0, x1);
                    x2 = Fma(new Vector<float>(Unsafe.Add(ref a2, ao)), b0, x2);
                    x3 = Fma(new Vector<float>(Unsafe.Add(ref a3, ao)), b0, x3);
                }
                St(x0, ref c0, col); St(x1, ref c1, col); St(x2, ref c2, col); St(x3, ref c3, col);
            }
        }
        for (; r < rows; r++)
        {
            ref float a0 = ref Unsafe.Add(ref a, (nint)r * ars);
            ref float c0 = ref Unsafe.Add(ref c, (nint)r * ldc);
            int col = 0;
            for (; col + 2 * vw <= cols; col += 2 * vw)
            {
                Vector<float> x0 = accumulate ? Ld(ref c0, col) : Vector<float>.Zero, x1 = accumulate ? Ld(ref c0, col + vw) : Vector<float>.Zero;
                ref float bc = ref Unsafe.Add(ref b, col);
                for (int x = 0; x < inner; x++)
                {
                    var s0 = new Vector<float>(Unsafe.Add(ref a0, (nint)x * axs));
                    x0 = Fma(s0, Ld(ref bc, (nint)x * ldb), x0); x1 = Fma(s0, Ld(ref bc, (nint)x * ldb + vw), x1);
                }
                St(x0, ref c0, col); St(x1, ref c0, col + vw);
            }
            for (; col < cols; col += vw)
            {
                Vector<float> x0 = accumulate ? Ld(ref c0, col) : Vector<float>.Zero;
                ref float bc = ref Unsafe.Add(ref b, col);
                for (int x = 0; x < inner; x++) x0 = Fma(new Vector<float>(Unsafe.Add(ref a0, (nint)x * axs)), Ld(ref bc, (nint)x * ldb), x0);
                St(x0, ref c0, col);
            }
        }
    }

    /// <summary><see cref="Gemm"/> on 512-bit tiles (4 rows × 32 columns, then 16); cols a multiple of 16. It repeats
    /// Gemm's tile loops on Vector512 on purpose: one generic tile routine over a struct per vector width (the BCL's
    /// ISimdVector is not public) gave the same bits but cost MLP 10 – 20 % and NeuMF 15 – 20 % in interleaved runs.</summary>
    private static void Gemm512(ref float a, int ars, int axs, ref float b, int ldb, ref float c, int ldc,
        int rows, int inner, int cols, bool accumulate)
    {
        int r = 0;
        for (; r + 4 <= rows; r += 4)
        {
            ref float a0 = ref Unsafe.Add(ref a, (nint)r * ars);
            ref float a1 = ref Unsafe.Add(ref a0, ars);
            ref float a2 = ref Unsafe.Add(ref a1, ars);
            ref float a3 = ref Unsafe.Add(ref a2, ars);
            ref float c0 = ref Unsafe.Add(ref c, (nint)r * ldc);
            ref float c1 = ref Unsafe.Add(ref c0, ldc);
            ref float c2 = ref Unsafe.Add(ref c1, ldc);
            ref float c3 = ref Unsafe.Add(ref c2, ldc);
            int col = 0;
            for (; col + 32 <= cols; col += 32)
            {
                Vector512<float> x00, x01, x10, x11, x20, x21, x30, x31;
                if (accumulate)
                {
                    x00 = L16(ref c0, col); x01 = L16(ref c0, col + 16); x10 = L16(ref c1, col); x11 = L16(ref c1, col + 16);
                    x20 = L16(ref c2, col); x21 = L16(ref c2, col + 16); x30 = L16(ref c3, col); x31 = L16(ref c3, col + 16);
                }
                else x00 = x01 = x10 = x11 = x20 = x21 = x30 = x31 = Vector512<float>.Zero;
                ref float bc = ref Unsafe.Add(ref b, col);
                for (int x = 0; x < inner; x++)
                {
                    nint ao = (nint)x * axs;
                    var b0 = L16(ref bc, (nint)x * ldb); var b1 = L16(ref bc, (nint)x * ldb + 16);
                    var s0 = Vector512.Create(Unsafe.Add(ref a0, ao)); x00 = Vector512.FusedMultiplyAdd(s0, b0, x00); x01 = Vector512.FusedMultiplyAdd(s0, b1, x01);
                    var s1 = Vector512.Create(Unsafe.Add(ref a1, ao)); x10 = Vector512.FusedMultiplyAdd(s1, b0, x10); x11 = Vector512.FusedMultiplyAdd(s1, b1, x11);
                    var s2 = Vector512.Create(Unsafe.Add(ref a2, ao)); x20 = Vector512.FusedMultiplyAdd(s2, b0, x20); x21 = Vector512.FusedMultiplyAdd(s2, b1, x21);
                    var s3 = Vector512.Create(Unsafe.Add(ref a3, ao)); x30 = Vector512.FusedMultiplyAdd(s3, b0, x30); x31 = Vector512.FusedMultiplyAdd(s3, b1, x31);
                }
                S16(x00, ref c0, col); S16(x01, ref c0, col + 16); S16(x10, ref c1, col); S16(x11, ref c1, col + 16);
                S16(x20, ref c2, col); S16(x21, ref c2, col + 16); S16(x30, ref c3, col); S16(x31, ref c3, col + 16);
            }
            for (; col < cols; col += 16)
            {
                Vector512<float> x0, x1, x2, x3;
                if (accumulate) { x0 = L16(ref c0, col); x1 = L16(ref c1, col); x2 = L16(ref c2, col); x3 = L16(ref c3, col); }
                else x0 = x1 = x2 = x3 = Vector512<float>.Zero;
                ref float bc = ref Unsafe.Add(ref b, col);
                for (int x = 0; x < inner; x++)
                {
                    nint ao = (nint)x * axs;
                    var b0 = L16(ref bc, (nint)x * ldb);
                    x0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a0, ao)), b0, x0);
                    x1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a1, ao)), b0, x1);
                    x2 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a2, ao)), b0, x2);
                    x3 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a3, ao)), b0, x3);
                }
                S16(x0, ref c0, col); S16(x1, ref c1, col); S16(x2, ref c2, col); S16(x3, ref c3, col);
            }
        }
        for (; r < rows; r++)
        {
            ref float a0 = ref Unsafe.Add(ref a, (nint)r * ars);
            ref float c0 = ref Unsafe.Add(ref c, (nint)r * ldc);
            for (int col = 0; col < cols; col += 16)
            {
                var x0 = accumulate ? L16(ref c0, col) : Vector512<float>.Zero;
                ref float bc = ref Unsafe.Add(ref b, col);
                for (int x = 0; x < inner; x++)
                    x0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a0, (nint)x * axs)), L16(ref bc, (nint)x * ldb), x0);
                S16(x0, ref c0, col);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> L16(ref float b, nint i) => Vector512.LoadUnsafe(ref b, (nuint)i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void S16(Vector512<float> v, ref float b, nint i) => v.StoreUnsafe(ref b, (nuint)i);

    // ------------------------------------------------------------------ TensorPrimitives, bit for bit, without the call

    /// <summary>
    /// TensorPrimitives.SumOfSquares(x), bit for bit. The kernels of BPR-MF, CML and GMF were written with TensorPrimitives,
    /// and every fused run's numbers hang on its summation order; but on a row of 64 or 100 floats its general routine
    /// (alignment, jump table, masks) costs more than the arithmetic, and CML calls it ≈ 30 k times a step (WARP's
    /// distances, the unit-ball norms). For 16 to 128 floats that routine adds the squares of the whole 512-bit vectors one
    /// after another into one accumulator, then the last 16 floats with all but the trailing n mod 16 masked to zero, and
    /// sums the lanes with Vector512.Sum; so does this, inline, on AVX2 machines too (see <see cref="Inline"/>). Other lengths
    /// go to TensorPrimitives itself, whose order then still depends on the machine: over 128 floats, and from 8 to 15 (where
    /// its paths differ only in the sign of an all-zero sum); no preset sums rows of those lengths. Pinned by
    /// FusedMathFormTests on every length 1–200 (a different order would differ).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumOfSquares(ReadOnlySpan<float> x) =>
        Inline(x.Length) ? SumInline(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(x), x.Length, Term.Square)
            : T.SumOfSquares(x);

    /// <summary>‖p − q‖² over p's length: TensorPrimitives.Subtract(p, q, diff) then SumOfSquares(diff), bit for bit (see
    /// <see cref="SumOfSquares"/>), without storing the difference when the inline case applies.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SquaredDistance(ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> diff)
    {
        int n = p.Length;
        if (Inline(n) && q.Length >= n) return SumInline(ref MemoryMarshal.GetReference(p), ref MemoryMarshal.GetReference(q), n, Term.SquaredDifference);
        T.Subtract(p, q[..n], diff);
        return T.SumOfSquares(diff[..n]);
    }

    /// <summary>TensorPrimitives.Dot(x, y) over x's length, bit for bit: the same order as <see cref="SumOfSquares"/> with the
    /// products x·y in place of the squares (pinned on every length 1–200 by FusedMathFormTests).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int n = x.Length;
        if (!Inline(n) || y.Length < n) return T.Dot(x, y[..n]);
        return SumInline(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), n, Term.Product);
    }

    /// <summary>Vector&lt;T&gt; stays 256 bits wide on AVX-512 machines by default: element-wise loops can take 512-bit lanes
    /// there (the same operation on each float, so the same bits).</summary>
    internal static bool Wide512 => Vector512.IsHardwareAccelerated && Vector<float>.Count < 16;

    /// <summary>Whether code written on 512-bit lanes runs at full vector speed: natively with AVX-512, and with AVX2 too,
    /// where the runtime computes each Vector512 operation as two 256-bit ones (measured on a Zen 3 machine without
    /// AVX-512: SumRows' 512-bit loop as fast as one on Vector&lt;T&gt;, 4.4 – 6.7× faster than its scalar fallback). Element-
    /// wise code gives the same bits at any width; <see cref="SumInline"/>, a reduction, uses it to keep the 512-bit order.</summary>
    internal static bool Lanes512 => Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated;

    /// <summary>Whether <see cref="SumInline"/> takes n floats: 16 to 128, on AVX-512 and on AVX2 alike. There TensorPrimitives
    /// itself would sum on 256-bit vectors, in another order, so a run's last bits would depend on the machine's vector
    /// width; the 512-bit order on both (Vector512.Sum adds its halves' sums, accelerated or not) gives an AVX2 machine
    /// the bits of an AVX-512 one, and with them the kit's recorded runs.</summary>
    private static bool Inline(int n) => Lanes512 && n >= 16 && n <= 8 * 16;

    private enum Term { Square, SquaredDifference, Product }

    /// <summary>One 512-bit vector of terms at offset i: a², (a − b)² or a·b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TermAt(ref float a, ref float b, nuint i, Term term)
    {
        var x = Vector512.LoadUnsafe(ref a, i);
        if (term == Term.Square) return x * x;
        var y = Vector512.LoadUnsafe(ref b, i);
        if (term == Term.Product) return x * y;
        var v = x - y;
        return v * v;
    }

    /// <summary>Σ of the terms over 16 ≤ n ≤ 128 floats in TensorPrimitives' order (see <see cref="SumOfSquares"/>): whole
    /// vectors into one accumulator, then the last 16 floats with all but the trailing n mod 16 masked to zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SumInline(ref float a, ref float b, int n, Term term)
    {
        const int C = 16;   // Vector512<float>.Count
        var acc = Vector512<float>.Zero + TermAt(ref a, ref b, 0, term);   // from +0, as TensorPrimitives (a sum of −0s is +0)
        int whole = n / C * C;
        for (int i = C; i < whole; i += C) acc += TermAt(ref a, ref b, (nuint)i, term);
        if (whole < n)
        {
            var keep = Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(C - (n - whole))).AsSingle();
            acc += Vector512.ConditionalSelect(keep, TermAt(ref a, ref b, (nuint)(n - C), term), Vector512<float>.Zero);
        }
        return Vector512.Sum(acc);
    }

    /// <summary>TensorPrimitives.Norm(x) (the square root of <see cref="SumOfSquares"/>), bit for bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Norm(ReadOnlySpan<float> x) => MathF.Sqrt(SumOfSquares(x));
}

