using Lrml.Fast;
using Lrml.Models;
using Lrml.Util;

namespace Lrml.Tests.Fast;

/// <summary>
/// On big tables exact Adam's dense sweep moves LRML's untouched rows with <c>EmbeddingEngine.ZeroGradientAdam</c>
/// (<c>LrmlFused.ZeroGradientShortcut</c>), which skips the square root and divisions where they provably change nothing.
/// It must keep the sweep's own bits: two engines, one with it and one without, trained on batches that leave most rows
/// idle for over a thousand steps (their first moments decay into subnormal floats and settle at the fixed points the
/// shortcut skips) and then read them again, end with byte-identical states — for the options that shape an untouched
/// row's update (gradient norm and value clips, the projection constraint, L2, where the shortcut must stand aside).
/// </summary>
public class LrmlZeroGradientSweepTests
{
    private const int Users = 60, Items = 50, Dim = 12, Slots = 3, Hot = 6;

    public static TheoryData<string> Options() => new() { "plain", "clips", "project", "l2", "sqdist" };

    private static LrmlConfig Config(string option)
    {
        var c = new LrmlConfig { Dim = Dim, Slots = Slots, Optimizer = OptimizerKind.Adam, LearningRate = 0.01f };
        return option switch
        {
            "clips" => c with { GradClipNorm = 0.5f, GradClipValue = 0.05f },
            "project" => c with { NormConstraint = NormConstraint.Project },
            "l2" => c with { L2 = 0.01f },
            "sqdist" => c with { Distance = LrmlDistance.SquaredL2 },
            _ => c,
        };
    }

    /// <summary>Batch t: every row may be drawn in steps 0–99 and from 1,300 on; in between only the first users and items.</summary>
    private static TrainingBatch Batch(Rng rng, long t)
    {
        bool all = t < 100 || t >= 1300;
        var batch = new TrainingBatch(8, 1) { Count = 8 };
        for (int b = 0; b < 8; b++)
        {
            batch.Users[b] = rng.NextInt(all ? Users : Hot);
            batch.Positives[b] = rng.NextInt(all ? Items : Hot);
            batch.Negatives[b] = rng.NextInt(all ? Items : Hot);
        }
        return batch;
    }

    private static (LrmlFused With, LrmlFused Without) Pair(LrmlConfig cfg)
    {
        var p = LrmlParameters.Initialize(cfg, Users, Items, seed: 3);
        var with = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 }) { ZeroGradientShortcut = true };
        var without = new LrmlFused(cfg, p, new FusedOptions { Threads = 1 }) { ZeroGradientShortcut = false };
        return (with, without);
    }

    /// <summary>Floats of a state whose bits are ±k·2⁻¹⁴⁹, 1 ≤ k ≤ 4: the subnormal fixed points of β₁·m.</summary>
    private static int FixedPoints(byte[] state)
    {
        int n = 0;
        for (int o = 40; o + 4 <= state.Length; o += 4)
        {
            int mag = BitConverter.ToInt32(state, o) & int.MaxValue;
            if (mag is >= 1 and <= 4) n++;
        }
        return n;
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void TheShortcutKeepsTheSweepsBitsThroughLongIdleSpells(string option)
    {
        var cfg = Config(option);
        var (with, without) = Pair(cfg);
        using (with)
        using (without)
        {
            var rng = new Rng(9, "test.lrml.zero-gradient");
            for (long t = 0; t < 1500; t++)
            {
                var batch = Batch(rng, t);
                double a = with.TrainStep(batch), b = without.TrainStep(batch);
                Assert.Equal(BitConverter.DoubleToInt64Bits(b), BitConverter.DoubleToInt64Bits(a));
                if (t == 1299)
                {
                    var state = without.SaveState();
                    Assert.Equal(state, with.SaveState());
                    if (option != "l2")   // (L2 pulls every row every step: its moments never go idle)
                        Assert.True(FixedPoints(state) > 200, $"the idle rows' moments must reach the fixed points (found {FixedPoints(state)})");
                }
            }
            Assert.Equal(without.SaveState(), with.SaveState());
        }
    }

    [Fact]
    public void RowsWhoseZeroGradientIsNotPlusZeroTakeTheSweepsOwnUpdate()
    {
        var cfg = Config("plain");
        var (with, without) = Pair(cfg);
        using (with)
        using (without)
        {
            var rng = new Rng(9, "test.lrml.zero-gradient");
            for (long t = 0; t < 400; t++) { var batch = Batch(rng, t); with.TrainStep(batch); without.TrainStep(batch); }
            var state = without.SaveState();
            var (p1, col) = PoisonIdleUsers(state, Users, Items, Dim, Slots);
            with.LoadState(state); without.LoadState(state);
            for (long t = 0; t < 30; t++) { var batch = Batch(rng, 200 + t); with.TrainStep(batch); without.TrainStep(batch); }
            var after = without.SaveState();
            Assert.Equal(after, with.SaveState());
            Assert.Equal(int.MinValue, BitConverter.ToInt32(after, 40 + 4 * (p1 + 40 * Dim + col)));   // the case is real: −0 stays −0
            Assert.True(float.IsNaN(BitConverter.ToSingle(after, 40 + 4 * (p1 + 41 * Dim + 2))));      // and the ∞ row's moment is NaN
        }
    }

    /// <summary>In a fused LRML state (users × items × d × N, after its 40-byte header): user 40 gets a −0 first moment where
    /// its weight is negative (a −0 gradient keeps it −0, a +0 one would make it +0), user 41 a +∞ weight, user 42 a NaN
    /// weight (0·θ is NaN for both). Returns the index of P's first moments and the column of the −0.</summary>
    internal static (int P1, int Col) PoisonIdleUsers(byte[] state, int users, int items, int dim, int slots)
    {
        int p1 = users * dim + items * dim + 2 * dim * slots;   // floats before P's first moments
        int col = Enumerable.Range(0, dim).First(j => BitConverter.ToSingle(state, 40 + 4 * (40 * dim + j)) < 0f);
        SetFloat(state, p1 + 40 * dim + col, -0f);
        SetFloat(state, 41 * dim + 2, float.PositiveInfinity);
        SetFloat(state, 42 * dim + 5, float.NaN);
        return (p1, col);
    }

    /// <summary>Float <paramref name="f"/> of a fused LRML state.</summary>
    internal static void SetFloat(byte[] state, int f, float v) => BitConverter.GetBytes(v).CopyTo(state, 40 + 4 * f);

    [Fact]
    public void TheGuardPassesFiniteRowsWithoutANegativeZeroMomentOnly()
    {
        int len = System.Numerics.Vector<float>.Count * 3;
        float[] w = [.. Enumerable.Range(0, len).Select(i => i % 2 == 0 ? 0.5f : -0.25f)];
        float[] m = [.. Enumerable.Range(0, len).Select(i => i % 3 == 0 ? 0f : -1e-40f)];
        w[3] = -0f; w[4] = 0f; w[5] = float.MaxValue; w[6] = 1e-42f;
        Assert.True(LrmlFused.ZeroGradientActsAsPlusZero(ref w[0], ref m[0], len));   // the shortcut does run on plain rows
        foreach (var (at, value) in new[] { (len - 1, float.PositiveInfinity), (1, float.NegativeInfinity), (len - 9, float.NaN) })
        {
            float[] bad = [.. w];
            bad[at] = value;
            Assert.False(LrmlFused.ZeroGradientActsAsPlusZero(ref bad[0], ref m[0], len));
        }
        float[] negZero = [.. m];
        negZero[len - 1] = -0f;
        Assert.False(LrmlFused.ZeroGradientActsAsPlusZero(ref w[0], ref negZero[0], len));
    }

    [Fact]
    public void OnlyTablesAboveTheReplaySizeTakeTheShortcutByDefault()
    {
        var cfg = Config("plain");
        using var small = new LrmlFused(cfg, LrmlParameters.Initialize(cfg, Users, Items, seed: 3));
        Assert.False(small.ZeroGradientShortcut);
        var wide = cfg with { Dim = 256, Slots = 2 };   // 12 bytes × (6,000 users + 100 items) × 256 floats ≈ 18.7 MB > 16 MiB
        using var big = new LrmlFused(wide, LrmlParameters.Initialize(wide, 6000, 100, seed: 3));
        Assert.True(big.ZeroGradientShortcut);
    }
}
