using Lrml.Fast;
using Lrml.Models;
using Lrml.Util;

namespace Lrml.Tests.Fast;

/// <summary>
/// <see cref="EmbeddingEngine.ZeroGradientAdam"/> (the step a row replays when no step read it) skips the square root and
/// the divisions where it can prove the weight cannot move; it must give exactly the bits of the full dense-Adam step with a
/// zero gradient, through thousands of steps in which moments decay through tiny normals into subnormals and their fixed
/// points, next to weights that are tiny, subnormal, signed zeros, infinite or NaN.
/// </summary>
public class ZeroGradientAdamTests
{

    private static readonly float[] Moments =
    [
        1e-3f, -2e-4f, 1e-20f, -3e-31f, 2e-38f, 1.2e-38f, 0f, -0f,
        float.Epsilon, -float.Epsilon, 2 * float.Epsilon, 4 * float.Epsilon, -4 * float.Epsilon, 5 * float.Epsilon, 9 * float.Epsilon, 1e-40f,
    ];
    private static readonly float[] SecondMoments = [1e-8f, 0f, 1e-40f, 1f, 1e-30f, 3e-5f, float.NaN, float.PositiveInfinity, -1e-9f];
    private static readonly float[] Weights =
    [
        0.1f, -0.3f, 0f, -0f, 1e-19f, 9e-19f, 1e-17f, 1e-40f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 1e30f, 2f, -0.001f,
    ];

    /// <summary>Rows 0–1: each lane drawn from the lists (mixed vectors); rows 2–9: one regime per row, every lane alike
    /// (w ≈ ±0.1 with moments decaying from 1e-6, from a subnormal, from zero, with v = 0, with single NaN, negative or
    /// infinite v, with one signalling-NaN weight, or w tiny), so whole vectors take each shortcut or just miss it.</summary>
    private static (float[] W, float[] M, float[] V) Rows(long seed, int Len)
    {
        var rng = new Rng(seed, "test.zero-grad-adam");
        int rows = 12, n = rows * Len;
        var w = new float[n]; var m = new float[n]; var v = new float[n];
        for (int x = 0; x < n; x++)
        {
            int row = x / Len;
            float sign = rng.NextInt(2) == 0 ? 1f : -1f;
            switch (row)
            {
                case 0 or 1:
                    w[x] = Weights[rng.NextInt(Weights.Length)]; m[x] = Moments[rng.NextInt(Moments.Length)]; v[x] = SecondMoments[rng.NextInt(SecondMoments.Length)];
                    break;
                case 2: w[x] = sign * (0.05f + 0.1f * rng.NextInt(10)); m[x] = sign * 1e-6f * (1 + rng.NextInt(50)); v[x] = 1e-9f * (1 + rng.NextInt(50)); break;
                case 3: w[x] = sign * 0.2f; m[x] = -sign * (1 + rng.NextInt(40)) * float.Epsilon; v[x] = 1e-10f; break;
                case 4: w[x] = sign * 0.7f; m[x] = 0f; v[x] = 1e-7f; break;
                // v = 0 stays 0, so den = ε exactly: the bound on the update is tight, and a looser threshold would skip moves
                case 5: w[x] = sign * (0.3f + 0.05f * rng.NextInt(10)); m[x] = sign * 1e-9f * (1 + rng.NextInt(50)); v[x] = 0f; break;
                // shortcut-shaped vectors but for one lane whose v is NaN or negative (the full update makes w NaN) or +∞
                case 6: w[x] = sign * 0.4f; m[x] = x % 3 == 0 ? 0f : (1 + rng.NextInt(4)) * float.Epsilon; v[x] = x % 16 == 5 ? float.NaN : x % 16 == 9 ? -1e-12f : 1e-10f; break;
                // m = 0 and one signalling-NaN weight: the full update returns it quieted
                case 8:   // (written as bits: converting 0x7FA00000 to a float value quiets it)
                    w[x] = sign * 0.4f; m[x] = 0f; v[x] = 1e-10f;
                    if (x % Len == 4) System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(w.AsSpan())[x] = 0x7FA00000;
                    break;
                // subnormal moments of many units (the integer path), with −0 and +0 lanes, normal v
                case 10: w[x] = sign * (0.1f + 0.1f * rng.NextInt(5)); m[x] = x % 7 == 0 ? -0f : x % 11 == 0 ? 0f : sign * (5 + rng.NextInt(8_388_600)) * float.Epsilon; v[x] = 1e-12f * (1 + rng.NextInt(50)); break;
                // the same with, in its first vector, one subnormal v; in its second, one weight small enough to move (1e-30);
                // in its tail, a signalling-NaN weight on a zero moment: each sends its vector to the full step
                case 11:
                    int lane = x % Len;
                    w[x] = lane == 20 ? 1e-30f : sign * 0.3f;
                    if (lane == 34) System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(w.AsSpan())[x] = 0x7FA00000;   // signalling
                    m[x] = lane == 34 ? 0f : sign * ((1 << 19) + rng.NextInt(1 << 20)) * float.Epsilon;
                    v[x] = lane == 3 ? 3e-39f : 1e-11f;
                    break;
                case 7: w[x] = sign * 0.4f; m[x] = sign * 1e-20f; v[x] = x % 16 == 3 ? float.NaN : x % 16 == 11 ? float.PositiveInfinity : 1e-10f; break;
                default: w[x] = sign * 1e-20f; m[x] = sign * 1e-7f; v[x] = 1e-9f; break;
            }
        }
        return (w, m, v);
    }

    /// <summary>Rows of 37 floats (two whole vectors and a tail of 5, through a padded stack buffer) and of 40 (a tail of 8,
    /// through a register: LRML's rows of d = 100 in 104 floats).</summary>
    [Theory]
    [InlineData(1e-3f, 37)]
    [InlineData(0.05f, 37)]
    [InlineData(3f, 37)]
    [InlineData(1e-3f, 40)]
    [InlineData(3f, 40)]
    public void TheShortcutsGiveTheBitsOfTheFullStepThroughThousandsOfSteps(float lr, int Len)
    {
        var (w, m, v) = Rows(1, Len);
        var (rw, rm, rv) = ((float[])w.Clone(), (float[])m.Clone(), (float[])v.Clone());
        var zeros = new float[Len];
        for (long t = 1; t <= 2500; t++)
        {
            var f = StepFactors.At(lr, t);
            for (int r = 0; r < w.Length / Len; r++)
            {
                int o = r * Len;
                EmbeddingEngine.ZeroGradientAdam(f, ref w[o], ref m[o], ref v[o], Len);
                EmbeddingEngine.Step(OptimizerKind.Adam, f, ref rw[o], ref rm[o], ref rv[o], ref zeros[0], Len);
            }
            if (t % 50 == 0 || t < 20)
                for (int x = 0; x < w.Length; x++)
                {
                    Assert.True(Bits(rw[x]) == Bits(w[x]), $"lr {lr}, step {t}, w[{x}]: full step {rw[x]:R}, shortcut {w[x]:R}");
                    Assert.True(Bits(rm[x]) == Bits(m[x]), $"lr {lr}, step {t}, m[{x}]: full step {rm[x]:R}, shortcut {m[x]:R}");
                    Assert.True(Bits(rv[x]) == Bits(v[x]), $"lr {lr}, step {t}, v[{x}]: full step {rv[x]:R}, shortcut {v[x]:R}");
                }
        }
        // the data reached the shortcuts' regimes: row 2's moments decayed into the subnormal fixed points (±k·2⁻¹⁴⁹, k ≤ 4),
        // row 3 started there, and row 2's weights moved before they stopped moving
        Assert.All(m.Skip(2 * Len).Take(2 * Len).Concat(m.Skip(10 * Len).Take(Len)), x => Assert.True((Bits(x) & int.MaxValue) <= 4, $"m = {x:R}"));
        Assert.NotEqual(Rows(1, Len).W.Skip(2 * Len).Take(Len), w.Skip(2 * Len).Take(Len));
    }

    /// <summary><see cref="EmbeddingEngine.ZeroGradientAdamSteps"/> (a row replaying its owed steps in one call, each vector
    /// held in registers across them) against one <see cref="EmbeddingEngine.ZeroGradientAdam"/> call per step, bit for
    /// bit: rows of 16 (whole vectors only), 24 and 40 (a tail of 8 in a register), 37 (a tail of 5 through the stack),
    /// spans of 1 to 700 steps starting anywhere in 3,000, on the regimes of <see cref="Rows"/>.</summary>
    [Theory]
    [InlineData(1e-3f, 16)]
    [InlineData(1e-3f, 24)]
    [InlineData(0.05f, 37)]
    [InlineData(3f, 37)]
    [InlineData(1e-3f, 40)]
    public void ReplayingManyStepsInOneCallGivesTheBitsOfOneCallPerStep(float lr, int Len)
    {
        var (w, m, v) = Rows(2, Len);
        var (rw, rm, rv) = ((float[])w.Clone(), (float[])m.Clone(), (float[])v.Clone());
        var factors = Enumerable.Range(1, 3000).Select(t => StepFactors.At(lr, t)).ToArray();
        int[] spans = [1, 2, 7, 64, 700, 3, 150, 1, 400];
        for (int r = 0; r < w.Length / Len; r++)
        {
            int o = r * Len, t = r * 37 % 200;   // each row starts at its own step
            for (int k = 0; t < factors.Length; k++)
            {
                int n = Math.Min(spans[(k + r) % spans.Length], factors.Length - t);
                EmbeddingEngine.ZeroGradientAdamSteps(factors.AsSpan(t, n), ref w[o], ref m[o], ref v[o], Len);
                for (int s = t; s < t + n; s++) EmbeddingEngine.ZeroGradientAdam(factors[s], ref rw[o], ref rm[o], ref rv[o], Len);
                t += n;
                for (int x = o; x < o + Len; x++)
                    Assert.True(Bits(rw[x]) == Bits(w[x]) && Bits(rm[x]) == Bits(m[x]) && Bits(rv[x]) == Bits(v[x]),
                        $"lr {lr}, row {r}, after step {t}, float {x - o}: per step w {rw[x]:R} m {rm[x]:R} v {rv[x]:R}; in one call w {w[x]:R} m {m[x]:R} v {v[x]:R}");
            }
        }
        // the replay moved weights (not a test of rows at rest)
        Assert.NotEqual(Rows(2, Len).W.Skip(2 * Len).Take(Len), w.Skip(2 * Len).Take(Len));
    }

    /// <summary>Moments far beyond what training produces (a loaded state, a direct call) with v′ = 0, so den = ε: m′ ⊘ den
    /// overflows, and the full step turns w into ±∞ or NaN; the shortcut must not keep w (found in review).</summary>
    [Theory]
    [InlineData(1e-9f, 1e38f, 4.44e30f)]
    [InlineData(0.05f, float.PositiveInfinity, 1e31f)]
    [InlineData(0.05f, float.NegativeInfinity, -1e31f)]
    [InlineData(0.05f, 3f, 1e29f)]
    public void HugeMomentsTakeTheFullStep(float lr, float w0, float m0)
    {
        const int n = 16;
        var w = Enumerable.Repeat(w0, n).ToArray(); var m = Enumerable.Repeat(m0, n).ToArray(); var v = new float[n];
        var (rw, rm, rv) = ((float[])w.Clone(), (float[])m.Clone(), (float[])v.Clone());
        var f = StepFactors.At(lr, 100_000);
        EmbeddingEngine.ZeroGradientAdam(f, ref w[0], ref m[0], ref v[0], n);
        var zeros = new float[n];
        EmbeddingEngine.Step(OptimizerKind.Adam, f, ref rw[0], ref rm[0], ref rv[0], ref zeros[0], n);
        for (int x = 0; x < n; x++)
            Assert.True(Bits(rw[x]) == Bits(w[x]) && Bits(rm[x]) == Bits(m[x]) && Bits(rv[x]) == Bits(v[x]),
                $"lane {x}: full step w {rw[x]:R}, shortcut w {w[x]:R}");
    }

    /// <summary>β₁m for every subnormal m, both signs, and ±0: the integer rounding of the subnormal shortcut against the
    /// processor's product, next to the full step's w (which must not move).</summary>
    [Fact]
    public void EverySubnormalMomentDecaysAsTheProcessorRoundsIt()
    {
        const int n = 1 << 12;
        var f = StepFactors.At(1e-3f, 1000);
        var zeros = new float[n];
        for (int start = 0; start < (1 << 23); start += n / 2)
        {
            var m = new float[n];
            for (int x = 0; x < n; x++) m[x] = BitConverter.Int32BitsToSingle((start + x / 2) | (x % 2 == 0 ? 0 : int.MinValue));
            var w = Enumerable.Range(0, n).Select(x => x % 3 == 0 ? -0.25f : 0.5f).ToArray();
            var v = Enumerable.Repeat(1e-10f, n).ToArray();
            var (rw, rm, rv) = ((float[])w.Clone(), (float[])m.Clone(), (float[])v.Clone());
            EmbeddingEngine.ZeroGradientAdam(f, ref w[0], ref m[0], ref v[0], n);
            EmbeddingEngine.Step(OptimizerKind.Adam, f, ref rw[0], ref rm[0], ref rv[0], ref zeros[0], n);
            for (int x = 0; x < n; x++)
                if (Bits(rm[x]) != Bits(m[x]) || Bits(rw[x]) != Bits(w[x]) || Bits(rv[x]) != Bits(v[x]))
                    Assert.Fail($"m bits {(start + x / 2) | (x % 2 == 0 ? 0 : int.MinValue):X8} → full step {Bits(rm[x]):X8} / w {rw[x]:R}, shortcut {Bits(m[x]):X8} / w {w[x]:R}");
        }
    }

    /// <summary>The weight floor of the subnormal shortcut at its edge: s ≈ 10⁵ (so K·2⁻¹⁰⁰ ≈ 2⁻⁵⁷, above the fixed 2⁻⁶⁰),
    /// v = 0 (den = ε exactly, the largest update), the largest subnormal moments, and weights from 2⁻⁷² to 2⁻⁴⁴: those the
    /// full step moves must move, those the floor lets through must not (a floor too low by 2⁶ fails here).</summary>
    [Fact]
    public void TheSubnormalShortcutsWeightFloorHoldsAtItsEdge()
    {
        const int n = 16 * 29;
        var f = StepFactors.At(1e5f, 100_000);
        var w = new float[n]; var m = new float[n]; var v = new float[n];
        for (int x = 0; x < n; x++)
        {
            w[x] = (x % 2 == 0 ? 1f : -1f) * MathF.ScaleB(1f + (x % 16) / 16f, -72 + x / 16);
            m[x] = BitConverter.Int32BitsToSingle(0x007FFFFF - x % 5 | (x % 3 == 0 ? int.MinValue : 0));
        }
        var w0 = (float[])w.Clone();
        var (rw, rm, rv) = ((float[])w.Clone(), (float[])m.Clone(), (float[])v.Clone());
        var zeros = new float[n];
        EmbeddingEngine.ZeroGradientAdam(f, ref w[0], ref m[0], ref v[0], n);
        EmbeddingEngine.Step(OptimizerKind.Adam, f, ref rw[0], ref rm[0], ref rv[0], ref zeros[0], n);
        for (int x = 0; x < n; x++)
            Assert.True(Bits(rw[x]) == Bits(w[x]) && Bits(rm[x]) == Bits(m[x]) && Bits(rv[x]) == Bits(v[x]), $"float {x}: w {w[x]:R} (full step {rw[x]:R})");
        int moved = Enumerable.Range(0, n).Count(x => rw[x] != w0[x]);
        Assert.True(moved >= 16 * 8, $"the full step must move the smallest weights (moved {moved})");
        Assert.True(f.SubnormalNoMoveWeight > 1e-18f, $"the floor must come from K here ({f.SubnormalNoMoveWeight:R})");
    }

    private static int Bits(float x) => BitConverter.SingleToInt32Bits(x);
}
