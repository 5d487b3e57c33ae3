using System.Diagnostics;
using Lrml.Fast;
using Lrml.Fast.Bench;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Tests.Fast;

/// <summary>
/// The phase clock behind <c>lrml bench</c>'s "where a step's time goes": laps go to the phase they name and add up to the
/// steps' wall time; each fused engine reports its parallel phases and named serial work; timing changes no result.
/// </summary>
public class PhaseClockTests
{
    [Fact]
    public void LapsGoToTheirPhaseAndOnlyInsideSteps()
    {
        long now = 0;
        var clock = new PhaseClock(() => now, ticksPerSecond: 1000);
        now = 5; clock.Lap("ignored");                      // outside a step: nothing
        now = 10; clock.BeginStep();
        now = 13; clock.Lap("index");                       // 3 ticks
        now = 20; clock.Lap("examples");                    // 7
        now = 21; clock.Lap("index");                       // 1 more: 4
        now = 30; clock.EndStep();                          // 9 left to the calling thread
        now = 100; clock.Lap("between steps");              // outside again
        now = 100; clock.BeginStep();
        now = 102; clock.Lap("examples");                   // 7 + 2
        now = 103; clock.EndStep();                         // 9 + 1
        Assert.Equal(2, clock.Steps);
        Assert.Equal([new PhaseTime("index", 0.004), new PhaseTime("examples", 0.009), new PhaseTime(PhaseClock.MainThread, 0.010)], clock.Phases);
        Assert.Equal(0.023, clock.TotalSeconds, 12);       // (30 − 10) + (103 − 100) ticks
    }

    [Fact]
    public void APhaseSummaryListsSharesLargestFirstAndSumsTheSmallOnes()
    {
        var phases = new List<PhaseTime> { new("index", 1), new("examples", 6), new("tiny", 0.004), new("sweep", 2.996), new("tinier", 0.001) };
        Assert.Equal("examples 60 %, sweep 30 %, index 10 %, other 0 %", BenchReport.PhaseSummary(phases));
        Assert.Equal("examples 75 %, index 25 %", BenchReport.PhaseSummary([new("index", 1), new("examples", 3)]));
        Assert.Equal("", BenchReport.PhaseSummary([]));
    }

    /// <summary>40 users × 30 items, each pair with probability ¼ (also the engines of <see cref="AdamFloorTests"/>).</summary>
    internal static UserItems Train()
    {
        var rng = new Rng(5, "test.phases");
        var lists = Enumerable.Range(0, 40).Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, 30).Where(_ => rng.NextInt(4) == 0).ToList()).ToList();
        return UserItems.FromLists(30, lists);
    }

    internal static ITrainableRecommender Build(string model, UserItems train, params (string Key, string Value)[] settings) =>
        (ITrainableRecommender)ModelRegistry.Build(model, new ModelBuildContext
        {
            NumUsers = train.NumUsers, NumItems = train.NumItems, Train = train, Seed = 3, Threads = 2, Engine = "fused",
            Settings = settings.Select(s => new KeyValuePair<string, string>(s.Key, s.Value)).ToList(),
        }).Model;

    public static TheoryData<string, string, string> Engines() => new()
    {
        // model, settings (key=value;…), phases a step must report
        { "bpr", "optimizer=adam", "examples (and user index)|item index|rows (gradient sums; updates unless swept)|exact-Adam sweep (every row)" },
        { "cml", "rank_weighting=warp;optimizer=lazy-adam", "own negative draws (WARP)|examples (and index)|rows (gradient sums; updates unless swept)" },
        { "neumf", "optimizer=adam", "examples (and user index)|item index|exact-Adam sweep (every row)|dense tower update" },
        { "transcf", "neighbour_sample=3", "index|neighbour draws|users' neighbourhood means (and items' neighbour draws)|items' neighbourhood means|examples|gradient sources|rows (gradient sums + update)" },
        { "lrml", "rank_weighting=warp", "own negative draws (WARP)|examples (and index)|rows (gradient sums; updates when not clipped)" },
        { "lrml", "grad_clip_norm=1", "examples (and index)|rows (gradient sums; updates when not clipped)|update (clipped or swept)" },
        { "lrml", "l2=0.001", "examples (and index)|L2 pass (every row)|update (clipped or swept)" },
    };

    [Theory]
    [MemberData(nameof(Engines))]
    public void EveryFusedEngineTimesItsPhasesWithoutChangingAResult(string model, string settings, string phases)
    {
        var train = Train();
        var pairs = settings.Split(';').Select(s => s.Split('=')).Select(kv => (kv[0], kv[1])).ToArray();
        using var timed = Build(model, train, pairs);
        using var plain = Build(model, train, pairs);
        var clock = new PhaseClock();
        var timedEngine = Assert.IsAssignableFrom<IPhaseTimed>(timed);
        timedEngine.PhaseClock = clock;
        var sampler = new Lrml.Protocols.NegativeSampler(train);
        var rng = new Rng(9, "test.phases.batches");
        var wall = new Stopwatch();
        double lossTimed = 0, lossPlain = 0;
        for (int step = 0; step < 4; step++)
        {
            var batch = new TrainingBatch(16, 2) { Count = 16 };
            for (int x = 0; x < 16; x++)
            {
                int u; do u = rng.NextInt(train.NumUsers); while (train[u].Length == 0);
                batch.Users[x] = u;
                batch.Positives[x] = train[u][rng.NextInt(train[u].Length)];
            }
            sampler.Fill(batch.Users.AsSpan(0, 16), batch.Negatives.AsSpan(0, 32), 2, rng);
            wall.Start();
            lossTimed += timed.TrainStep(batch);
            wall.Stop();
            lossPlain += plain.TrainStep(batch);
        }
        Assert.Equal(4, clock.Steps);
        var names = clock.Phases.Select(p => p.Phase).ToList();
        foreach (string expected in phases.Split('|')) Assert.Contains(expected, names);
        Assert.True(clock.TotalSeconds > 0 && clock.TotalSeconds <= wall.Elapsed.TotalSeconds,
            $"timed {clock.TotalSeconds} s of steps that took {wall.Elapsed.TotalSeconds} s");
        Assert.All(clock.Phases, p => Assert.True(p.Seconds >= 0, p.Phase));
        // timing changes nothing: the same loss and the same state, bit for bit
        Assert.Equal(lossPlain, lossTimed);
        Assert.Equal(plain.SaveState(), timed.SaveState());
        // detached, steps are no longer counted (and scoring was never a step)
        timedEngine.PhaseClock = null;
        var again = new TrainingBatch(1, 2) { Count = 1 };
        again.Users[0] = 0; again.Positives[0] = train[0].Length > 0 ? train[0][0] : 0; again.Negatives[0] = 1; again.Negatives[1] = 2;
        timed.TrainStep(again);
        Assert.Equal(4, clock.Steps);
        Assert.Null(timedEngine.PhaseClock);
    }
}
