using Lrml.Fast;
using Lrml.Models;

namespace Lrml.Tests.Fast;

/// <summary>
/// Exact Adam on the shared fused engine moves every row every step (PyTorch's dense Adam). On large tables it does not
/// sweep them: a row the step does not read owes that step and replays it when a later step reads it, and every row
/// catches up before the tables are read otherwise (<see cref="EmbeddingEngine.ReplayUnreadRows"/>, switched on here for
/// tiny tables). These tests hold the replay to a hand-written dense Adam that updates every row at every step, bit for
/// bit, with batches that leave rows unread for several steps in a row, to the sweep, and to itself whatever reads the
/// tables in between (scores, export, state), however often every row is made to catch up and when the mode switches.
/// </summary>
public class ExactAdamCatchUpTests
{
    private const int NU = 12, NI = 15, Steps = 14;

    /// <summary>Step s reads 4 users of one group of 4 (each group idle for 8 steps in 12) and items of one group of 5 (idle
    /// for 6 steps in 9), two negatives per positive.</summary>
    private static TrainingBatch Batch(int s)
    {
        var batch = new TrainingBatch(4, 2) { Count = 4 };
        int ug = s / 4 % 3 * 4, ig = s / 3 % 3 * 5;
        for (int x = 0; x < 4; x++)
        {
            batch.Users[x] = ug + (x + s) % 4;
            batch.Positives[x] = ig + (x * 2 + s) % 5;
            batch.Negatives[2 * x] = ig + (x * 3 + 1 + s) % 5;
            batch.Negatives[2 * x + 1] = ig + (x + 4 + 2 * s) % 5;
        }
        return batch;
    }

    private static float[] Gauss(int n, double std, string stream) => TorchSupport.GaussianInit(n, std, 11, stream);

    public static TheoryData<string> Models() => new() { "bpr", "bpr-bias", "cml", "cml-d9", "gmf" };

    /// <summary>Also models whose steps draw their own negatives (WARP) or carry a dense tower (MLP, NeuMF).</summary>
    public static TheoryData<string> AllModels() => new() { "bpr", "bpr-bias", "cml", "cml-d9", "gmf", "cml-warp", "mlp", "neumf" };

    private static readonly Lrml.Protocols.UserItems WarpPositives = Lrml.Protocols.UserItems.FromLists(NI,
        Enumerable.Range(0, NU).Select(u => (IReadOnlyList<int>)new[] { u % NI, (2 * u + 3) % NI }.Distinct().Order().ToArray()).ToList());

    private static EmbeddingEngine Engine(string model, int threads, bool replay = true)
    {
        var e = Swept(model, threads);
        e.ReplayUnreadRows = replay;
        return e;
    }

    private static EmbeddingEngine Swept(string model, int threads) => model switch
    {
        "bpr" => EmbeddingModels.Bpr(new BprConfig { Dim = 6, LearningRate = 0.05f, L2 = 0.02f }, NU, NI, Gauss(NU * 6, 0.4, "p"), Gauss(NI * 6, 0.4, "q"), null, threads),
        "bpr-bias" => EmbeddingModels.Bpr(new BprConfig { Dim = 16, LearningRate = 0.05f, ItemBias = true }, NU, NI, Gauss(NU * 16, 0.4, "p"), Gauss(NI * 16, 0.4, "q"), Gauss(NI, 0.5, "b"), threads),
        // rows start outside the unit ball and the margin keeps hinges active: the projection runs on replayed steps too
        "cml" => EmbeddingModels.Cml(new CmlConfig { Dim = 6, LearningRate = 0.05f, Margin = 1.5f }, NU, NI, Gauss(NU * 6, 0.6, "p"), Gauss(NI * 6, 0.6, "q"), threads),
        "cml-d9" => EmbeddingModels.Cml(new CmlConfig { Dim = 9, LearningRate = 0.05f, Margin = 0.3f }, NU, NI, Gauss(NU * 9, 0.5, "p"), Gauss(NI * 9, 0.5, "q"), threads),
        "gmf" => EmbeddingModels.Gmf(new GmfConfig { Dim = 6, LearningRate = 0.05f }, NU, NI, Gauss(NU * 6, 0.5, "p"), Gauss(NI * 6, 0.5, "q"), Gauss(7, 0.5, "h"), threads),
        "cml-warp" => EmbeddingModels.Cml(new CmlConfig { Dim = 16, LearningRate = 0.05f, Margin = 1f, RankWeighting = CmlRankWeighting.Warp, WarpNegatives = 4 }, NU, NI, Gauss(NU * 16, 0.5, "p"), Gauss(NI * 16, 0.5, "q"), threads, WarpPositives, seed: 3),
        "mlp" => EmbeddingModels.Mlp(new MlpConfig { Layers = [16, 8], LearningRate = 0.05f }, NU, NI, seed: 5, threads),
        _ => EmbeddingModels.NeuMf(new NeuMfConfig { Dim = 4, Layers = [16, 8], LearningRate = 0.05f }, NU, NI, seed: 5, threads),
    };

    /// <summary>Dense Adam by hand: every row of every table takes the step, with its gradient or with zero.</summary>
    private sealed class DenseAdam(float[] table, int rows, float lr, bool project)
    {
        private readonly int _w = table.Length / rows;
        private readonly float[] _m1 = new float[table.Length], _m2 = new float[table.Length];
        public float[] Table { get; } = (float[])table.Clone();

        public void Step(long t, float[] grad)
        {
            var f = StepFactors.At(lr, t);
            for (int r = 0; r < rows; r++)
            {
                int o = r * _w;
                EmbeddingEngine.Step(OptimizerKind.Adam, f, ref Table[o], ref _m1[o], ref _m2[o], ref grad[o], _w);
                if (project) EmbeddingEngine.ProjectRow(Table, o, _w);
            }
        }
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int x = 0; x < expected.Length; x++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[x]) == BitConverter.SingleToInt32Bits(actual[x]),
                $"{what}[{x}]: dense Adam {expected[x]:R}, engine {actual[x]:R}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryRowEndsWithTheBitsOfADenseAdamThatUpdatesEveryRowEveryStep(string model)
    {
        // engine a: a gradient (its own, at the rows it reads) then the step; engine b: the steps alone, so its steps catch
        // the rows up themselves; the reference applies a's gradients to every row by hand
        using var a = Engine(model, 2);
        using var b = Engine(model, 1);
        var start = a.Export();
        const float lr = 0.05f;   // every case's learning rate
        bool project = model.StartsWith("cml");
        var users = new DenseAdam(start.Users, NU, lr, project);
        var items = new DenseAdam(start.Items, NI, lr, project);
        var dense = start.Dense.Length > 0 ? new DenseAdam(start.Dense, 1, lr, false) : null;
        float[] idleUserBefore = [];
        for (int s = 0; s < Steps; s++)
        {
            var batch = Batch(s);
            var g = a.ComputeGradient(batch);
            Assert.Equal(a.TrainStep(batch), b.TrainStep(batch));
            users.Step(s + 1, g.Users); items.Step(s + 1, g.Items); dense?.Step(s + 1, g.Dense);
            if (s == 3) idleUserBefore = users.Table[..(4 * (start.Users.Length / NU))];
        }
        // users 0–3 were read at steps 0–3 and 12–13 only: dense Adam moved them while idle, so a kit that skipped the
        // owed steps would fail here rather than agree by accident
        Assert.NotEqual(idleUserBefore, users.Table[..idleUserBefore.Length]);
        var ea = a.Export();
        AssertSameBits(users.Table, ea.Users, "users"); AssertSameBits(items.Table, ea.Items, "items");
        if (dense is not null) AssertSameBits(dense.Table, ea.Dense, "dense");
        Assert.Equal(a.SaveState(), b.SaveState());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ReadsSeeEveryRowCaughtUpAndNeitherTheyNorTheOwedStepLimitChangeABit(string model)
    {
        using var plain = Engine(model, 2);     // only trains
        using var limited = Engine(model, 2);   // every row catches up every third step
        using var read = Engine(model, 2);      // the tables are read after every step
        using var saved = Engine(model, 2);     // its state is saved after every step (which catches every row up)
        limited.OwedStepLimit = 3;
        int[] all = Enumerable.Range(0, NU).ToArray();
        float[] got = new float[NU * NI], want = new float[NU * NI];
        for (int s = 0; s < Steps; s++)
        {
            var batch = Batch(s);
            double l = plain.TrainStep(batch);
            Assert.Equal(l, limited.TrainStep(batch));
            Assert.Equal(l, read.TrainStep(batch));
            Assert.Equal(l, saved.TrainStep(batch));
            // what a read must see: an engine loaded from the saved state, whose rows are all current
            using var current = Engine(model, 1);
            current.LoadState(saved.SaveState());
            switch (s % 4)
            {
                case 0: read.ScoreAllItems(all, got); current.ScoreAllItems(all, want); AssertSameBits(want, got, $"step {s} scores"); break;
                case 1:
                    var (eu, ei, ed) = read.Export(); var (cu, ci, cd) = current.Export();
                    AssertSameBits(cu, eu, $"step {s} users"); AssertSameBits(ci, ei, $"step {s} items"); AssertSameBits(cd, ed, $"step {s} dense");
                    break;
                case 2: Assert.Equal(current.MaxAbsParameter(), read.MaxAbsParameter()); break;
                default:
                    int[] pu = [1, 7, 11, 4], pi = [2, 14, 0, 9];
                    read.ScorePairs(pu, pi, got); current.ScorePairs(pu, pi, want);
                    AssertSameBits(want[..4], got[..4], $"step {s} pair scores");
                    break;
            }
        }
        var state = plain.SaveState();
        Assert.Equal(state, limited.SaveState());
        Assert.Equal(state, read.SaveState());
        Assert.Equal(state, saved.SaveState());
        // a resumed engine starts with every row current and continues with the same bits
        using var resumed = Engine(model, 1);
        for (int s = 40; s < 43; s++) resumed.TrainStep(Batch(s));   // rows owe steps when the state is loaded over them
        resumed.LoadState(state);
        for (int s = Steps; s < Steps + 5; s++) Assert.Equal(plain.TrainStep(Batch(s)), resumed.TrainStep(Batch(s)));
        Assert.Equal(plain.SaveState(), resumed.SaveState());
    }

    [Theory]
    [MemberData(nameof(AllModels))]
    public void TheReplayAndTheSweepGiveTheSameBitsAndTheModeCanSwitchMidRun(string model)
    {
        using var swept = Engine(model, 2, replay: false);
        using var replayed = Engine(model, 2);
        using var switching = Engine(model, 2, replay: false);
        for (int s = 0; s < Steps; s++)
        {
            if (s % 5 == 2) switching.ReplayUnreadRows = !switching.ReplayUnreadRows;
            var batch = Batch(s);
            double l = swept.TrainStep(batch);
            Assert.Equal(l, replayed.TrainStep(batch));
            Assert.Equal(l, switching.TrainStep(batch));
        }
        Assert.Equal(swept.SaveState(), replayed.SaveState());
        Assert.Equal(swept.SaveState(), switching.SaveState());
    }

    [Fact]
    public void OnlyExactAdamOnTablesLargerThanTheCachesReplays()
    {
        // more than ReplayMinBytes of weights and moments (12 bytes per float of P and Q)
        int big = (int)(EmbeddingEngine.ReplayMinBytes / 12 / 64) + 1;
        using (var small = EmbeddingModels.Bpr(new BprConfig { Dim = 64 }, 6_040, 3_706, seed: 1, threads: 1))
            Assert.False(small.ReplayUnreadRows);   // the ML-1M shape: swept
        using (var large = EmbeddingModels.Bpr(new BprConfig { Dim = 64 }, big, 10, seed: 1, threads: 1))
            Assert.True(large.ReplayUnreadRows);
        using (var lazy = EmbeddingModels.Bpr(new BprConfig { Dim = 64, Optimizer = OptimizerKind.LazyAdam }, big, 10, seed: 1, threads: 1))
        {
            Assert.False(lazy.ReplayUnreadRows);
            Assert.Throws<InvalidOperationException>(() => lazy.ReplayUnreadRows = true);
        }
    }

    [Fact]
    public void ALongerRunOnMoreRowsReplaysWithTheSweepsBits()
    {
        // d 16 (whole 512-bit vectors), 400 users and 300 items, 300 steps of 64 examples: hundreds of rows owe steps at
        // once (many parallel catch-up blocks) and the factors of 300 steps are kept (the history grows past its first size)
        var c = new BprConfig { Dim = 16, LearningRate = 0.02f, L2 = 0.01f };
        using var swept = EmbeddingModels.Bpr(c, 400, 300, seed: 7, threads: 2);
        using var replayed = EmbeddingModels.Bpr(c, 400, 300, seed: 7, threads: 2);
        replayed.ReplayUnreadRows = true;
        Assert.False(swept.ReplayUnreadRows);
        var rng = new Lrml.Util.Rng(4, "test.long-replay");
        var batch = new TrainingBatch(64, 1) { Count = 64 };
        for (int s = 0; s < 300; s++)
        {
            int u0 = s % 5 * 80;   // a fifth of the users per step: each idle for 4 steps in 5
            for (int x = 0; x < 64; x++)
            {
                batch.Users[x] = u0 + rng.NextInt(80);
                batch.Positives[x] = rng.NextInt(300); batch.Negatives[x] = rng.NextInt(300);
            }
            Assert.Equal(swept.TrainStep(batch), replayed.TrainStep(batch));
        }
        Assert.Equal(swept.SaveState(), replayed.SaveState());
    }
}
