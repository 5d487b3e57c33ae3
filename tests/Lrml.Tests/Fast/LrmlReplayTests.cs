using Lrml.Fast;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Tests.Fast;

/// <summary>
/// On big tables, exact Adam without L2 does not sweep LRML's untouched rows at every step: each row replays the steps it
/// owes just before a step or any other reader (scoring, explanations, export, state, parameter checks) reads it
/// (<c>LrmlFused.ReplayUnreadRows</c>). It must be the sweep with its work moved in time: a replaying engine and a sweeping
/// one, trained on batches that leave most rows idle for hundreds of steps and read between steps through every path,
/// give the same losses, scores and byte-identical states, for the options that shape an untouched row's update or what a
/// step reads (norm and value clips, each norm constraint, squared distance, recomputed negative relations, WARP's drawn
/// items, a frozen memory).
/// </summary>
public class LrmlReplayTests
{
    private const int Users = 60, Items = 50, Dim = 12, Slots = 3, Hot = 6;

    public static TheoryData<string> Options() => new() { "clip", "clips", "project", "none", "sqdist", "recompute", "warp", "frozen", "d100" };

    private static LrmlConfig Config(string option)
    {
        var c = new LrmlConfig { Dim = Dim, Slots = Slots, Optimizer = OptimizerKind.Adam, LearningRate = 0.01f };
        return option switch
        {
            "clips" => c with { GradClipNorm = 0.5f, GradClipValue = 0.05f },
            "project" => c with { NormConstraint = NormConstraint.Project },
            "none" => c with { NormConstraint = NormConstraint.None },
            "sqdist" => c with { Distance = LrmlDistance.SquaredL2 },
            "recompute" => c with { NegativeRelation = NegativeRelation.Recompute },
            "warp" => c with { RankWeighting = LrmlRankWeighting.Warp, WarpNegatives = 4 },
            "frozen" => c with { TrainMemory = false },
            "d100" => c with { Dim = 100 },   // rows of 104 floats: a tail of 8 after six 16-float vectors
            _ => c,
        };
    }

    private static UserItems Positives() =>
        UserItems.FromPairs(Users, Items, [.. Enumerable.Range(0, 2 * Users).Select(x => x / 2)], [.. Enumerable.Range(0, 2 * Users).Select(x => (x * 7) % Items)]);

    /// <summary>Batch t: every row may be drawn in steps 0–49, then only the first users and items for 600 steps (the idle rows'
    /// moments reach their subnormal fixed points), then every row again in the first 5 steps of every 30 (idle rows owe a
    /// few steps that still move them when a reader comes).</summary>
    private static TrainingBatch Batch(Rng rng, long t)
    {
        bool all = t < 50 || (t >= 650 && t % 30 < 5);
        var batch = new TrainingBatch(8, 2) { Count = 8 };
        for (int b = 0; b < 8; b++)
        {
            batch.Users[b] = rng.NextInt(all ? Users : Hot);
            batch.Positives[b] = rng.NextInt(all ? Items : Hot);
            for (int j = 0; j < 2; j++) batch.Negatives[b * 2 + j] = rng.NextInt(all ? Items : Hot);
        }
        return batch;
    }

    private static (LrmlFused Replaying, LrmlFused Sweeping) Pair(LrmlConfig cfg, bool shortcut = true)
    {
        var p = LrmlParameters.Initialize(cfg, Users, Items, seed: 3);
        var positives = cfg.RankWeighting == LrmlRankWeighting.Warp ? Positives() : null;
        var replaying = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 }, positives, seed: 5) { ReplayUnreadRows = true, ZeroGradientShortcut = shortcut };
        var sweeping = new LrmlFused(cfg, p, new FusedOptions { Threads = 1 }, positives, seed: 5) { ZeroGradientShortcut = false };
        Assert.False(sweeping.ReplayUnreadRows);   // small tables sweep by default
        return (replaying, sweeping);
    }

    private static void SameStep(LrmlFused a, LrmlFused b, TrainingBatch batch) =>
        Assert.Equal(BitConverter.DoubleToInt64Bits(b.TrainStep(batch)), BitConverter.DoubleToInt64Bits(a.TrainStep(batch)));

    private static float[] ScoresOf(LrmlFused m, int[] users)
    {
        var s = new float[users.Length * Items];
        m.ScoreAllItems(users, s);
        return s;
    }

    [Theory]
    [MemberData(nameof(Options))]
    public void ReplayingUnreadRowsKeepsTheSweepsBitsThroughLongIdleSpellsAndEveryReader(string option)
    {
        var (replaying, sweeping) = Pair(Config(option));
        using (replaying)
        using (sweeping)
        {
            var rng = new Rng(9, "test.lrml.replay");
            int[] idle = [Hot + 1, Users - 1, 30];   // users no step reads between steps 50 and 650, nor most of the time after
            for (long t = 0; t < 800; t++)
            {
                var batch = Batch(rng, t);
                SameStep(replaying, sweeping, batch);
                switch (t)
                {
                    case 660: Assert.Equal(ScoresOf(sweeping, idle), ScoresOf(replaying, idle)); break;
                    case 670:
                        var pairs = Enumerable.Range(0, 20).ToArray();
                        var (sa, sb) = (new float[20], new float[20]);
                        replaying.ScorePairs(pairs.Select(x => x % Users).ToArray(), pairs.Select(x => (x * 3) % Items).ToArray(), sa);
                        sweeping.ScorePairs(pairs.Select(x => x % Users).ToArray(), pairs.Select(x => (x * 3) % Items).ToArray(), sb);
                        Assert.Equal(sb, sa);
                        break;
                    case 690:
                        int d = replaying.Dim;
                        var (ra, rb) = (new float[3 * Slots + 3 * d], new float[3 * Slots + 3 * d]);
                        replaying.Explain(idle, [Items - 1, 20, 7], ra.AsSpan(0, 3 * Slots), ra.AsSpan(3 * Slots));
                        sweeping.Explain(idle, [Items - 1, 20, 7], rb.AsSpan(0, 3 * Slots), rb.AsSpan(3 * Slots));
                        Assert.Equal(rb, ra);
                        break;
                    case 700: Assert.Equal(sweeping.EffectiveEmbeddings(idle, [Items - 1]).Users, replaying.EffectiveEmbeddings(idle, [Items - 1]).Users); break;
                    case 720:
                        var ga = replaying.ComputeGradient(Batch(rng.Clone(), 700));
                        var gb = sweeping.ComputeGradient(Batch(rng.Clone(), 700));
                        Assert.Equal(gb.Loss, ga.Loss);
                        Assert.Equal(gb.P, ga.P); Assert.Equal(gb.Q, ga.Q); Assert.Equal(gb.K, ga.K); Assert.Equal(gb.M, ga.M);
                        break;
                    case 730: Assert.Equal(sweeping.ExportParameters().Q, replaying.ExportParameters().Q); break;
                    case 750: Assert.Equal(sweeping.MaxAbsParameter(), replaying.MaxAbsParameter()); break;
                    case 780: Assert.Equal(sweeping.SaveState(), replaying.SaveState()); break;
                }
            }
            Assert.Equal(sweeping.SaveState(), replaying.SaveState());
        }
    }

    [Fact]
    public void StatesLoadedOrParametersSetMidRunAndABoundOnOwedStepsKeepTheBits()
    {
        var cfg = Config("clip");
        var (replaying, sweeping) = Pair(cfg, shortcut: false);
        using (replaying)
        using (sweeping)
        {
            replaying.OwedStepLimit = 37;
            var rng = new Rng(11, "test.lrml.replay");
            for (long t = 0; t < 300; t++) SameStep(replaying, sweeping, Batch(rng, t));
            // a state of the sweeping engine, loaded into the replaying one while its idle rows owe steps
            var state = sweeping.SaveState();
            replaying.LoadState(state);
            for (long t = 300; t < 500; t++) SameStep(replaying, sweeping, Batch(rng, t));
            // new weights (the moments stay, so they must have caught up first)
            var p = LrmlParameters.Initialize(cfg, Users, Items, seed: 8);
            replaying.SetParameters(p); sweeping.SetParameters(p);
            for (long t = 500; t < 700; t++) SameStep(replaying, sweeping, Batch(rng, t));
            Assert.True(replaying.ParametersAreFinite());
            // and switching replay off catches every row up
            replaying.ReplayUnreadRows = false;
            for (long t = 700; t < 720; t++) SameStep(replaying, sweeping, Batch(rng, t));
            Assert.Equal(sweeping.SaveState(), replaying.SaveState());
        }
    }

    /// <summary>Rows whose zero gradient is not +0 (a −0 first moment under a negative weight, a +∞ or NaN weight), and a
    /// row whose first replayed step overflows its weight to −∞ (so every later step must take the sweep's own update, which
    /// turns it into NaN), loaded into idle users of both engines.</summary>
    [Fact]
    public void RowsWhoseZeroGradientIsNotPlusZeroReplayTheSweepsOwnUpdate()
    {
        var (replaying, sweeping) = Pair(Config("clip"));
        using (replaying)
        using (sweeping)
        {
            var rng = new Rng(9, "test.lrml.replay");
            for (long t = 0; t < 100; t++) SameStep(replaying, sweeping, Batch(rng, t));
            var state = sweeping.SaveState();
            var (p1, col) = LrmlZeroGradientSweepTests.PoisonIdleUsers(state, Users, Items, Dim, Slots);
            int p2 = 2 * p1;   // floats before P's second moments
            for (int j = 0; j < Dim; j++)
            {
                LrmlZeroGradientSweepTests.SetFloat(state, 43 * Dim + j, 3f);
                LrmlZeroGradientSweepTests.SetFloat(state, p1 + 43 * Dim + j, 3e38f);
                LrmlZeroGradientSweepTests.SetFloat(state, p2 + 43 * Dim + j, 0f);
            }
            replaying.LoadState(state); sweeping.LoadState(state);
            for (long t = 100; t < 130; t++) SameStep(replaying, sweeping, Batch(rng, t));
            var after = sweeping.SaveState();
            Assert.Equal(after, replaying.SaveState());
            Assert.Equal(int.MinValue, BitConverter.ToInt32(after, 40 + 4 * (p1 + 40 * Dim + col)));   // the cases are real: −0 stays −0,
            Assert.True(float.IsNaN(BitConverter.ToSingle(after, 40 + 4 * (p1 + 41 * Dim + 2))));      // the ∞ row's moment is NaN,
            Assert.True(float.IsNaN(BitConverter.ToSingle(after, 40 + 4 * (43 * Dim))));                // and the overflowed weight too
        }
    }

    [Fact]
    public void OnlyExactAdamWithoutL2OnTablesAboveTheReplaySizeReplaysByDefault()
    {
        var wide = Config("clip") with { Dim = 256, Slots = 2 };   // 12 bytes × (6,000 users + 100 items) × 256 floats ≈ 18.7 MB > 16 MiB
        using (var big = new LrmlFused(wide, LrmlParameters.Initialize(wide, 6000, 100, seed: 3))) Assert.True(big.ReplayUnreadRows);
        var l2 = wide with { L2 = 0.001f };
        using (var withL2 = new LrmlFused(l2, LrmlParameters.Initialize(l2, 6000, 100, seed: 3)))
        {
            Assert.False(withL2.ReplayUnreadRows);
            Assert.Throws<InvalidOperationException>(() => withL2.ReplayUnreadRows = true);
        }
        var lazy = wide with { Optimizer = OptimizerKind.LazyAdam };
        using (var sparse = new LrmlFused(lazy, LrmlParameters.Initialize(lazy, 6000, 100, seed: 3))) Assert.False(sparse.ReplayUnreadRows);
        var small = Config("clip");
        using (var cached = new LrmlFused(small, LrmlParameters.Initialize(small, Users, Items, seed: 3))) Assert.False(cached.ReplayUnreadRows);
    }
}
