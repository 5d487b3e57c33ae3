using Lrml.Fast;
using Lrml.Fast.Bench;
using Lrml.Models;

namespace Lrml.Tests.Fast;

/// <summary>
/// <c>lrml bench</c>'s exact-Adam floor: the engines say how many floats their exact-Adam step sweeps, the floor turns that
/// and the update's measured speed into the least time a step can take and the throughput it caps, and a target above
/// the cap says so.
/// </summary>
public class AdamFloorTests
{
    [Fact]
    public void AStepsFloorIsTheBusiestThreadsShareOfTheSweepAtTheMeasuredSpeed()
    {
        Assert.Equal(224.64e-6, AdamFloor.StepSeconds(624_000, 2, 0.72), 12);   // 312,000 floats × 0.72 ns
        Assert.Equal(3e-9, AdamFloor.StepSeconds(5, 2, 1.0), 15);                // the busier thread sweeps 3 of 5
        Assert.Equal(5e-9, AdamFloor.StepSeconds(5, 1, 1.0), 15);
    }

    [Fact]
    public void TheUpdatesSpeedIsMeasuredAsAPositiveTimePerFloat()
    {
        double ns = AdamFloor.NanosecondsPerFloat(20_000, passes: 3);
        Assert.True(double.IsFinite(ns) && ns > 0 && ns < 1_000, $"{ns} ns per float");
        double both = AdamFloor.NanosecondsPerFloat(20_000, threads: 2, passes: 3, minSeconds: 0.05);   // both threads at once
        Assert.True(double.IsFinite(both) && both > 0 && both < 1_000, $"{both} ns per float on 2 threads");
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamFloor.NanosecondsPerFloat(100, threads: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamFloor.NanosecondsPerFloat(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AdamFloor.NanosecondsPerFloat(100, passes: 0));
    }

    private static ITrainableRecommender Build(string model, string settings) => PhaseClockTests.Build(model, PhaseClockTests.Train(),
        settings.Split(';').Select(s => s.Split('=')).Select(kv => (kv[0], kv[1])).ToArray());

    /// <summary>Model, settings, the floats its exact-Adam step sweeps: 40 users and 30 items, rows of d = 20 floats padded to
    /// whole vectors (the engines' tables; TransCF pads each of its two tables as a whole); none without exact Adam.</summary>
    public static TheoryData<string, string, long> SweptFloats() => new()
    {
        { "bpr", "dim=20;optimizer=adam", 70L * FusedMath.Pad(20) },
        { "cml", "dim=20;optimizer=adam", 70L * FusedMath.Pad(20) },
        { "gmf", "dim=20;optimizer=adam", 70L * FusedMath.Pad(20) },
        { "lrml", "dim=20;optimizer=adam", 70L * FusedMath.Pad(20) },
        { "transcf", "dim=20;optimizer=adam", FusedMath.Pad(40 * 20) + FusedMath.Pad(30 * 20) },
        { "bpr", "dim=20;optimizer=lazy-adam", 0 },
        { "cml", "dim=20;optimizer=sgd", 0 },
        { "lrml", "dim=20;optimizer=lazy-adam", 0 },
        { "transcf", "dim=20;optimizer=lazy-adam", 0 },
    };

    [Theory]
    [MemberData(nameof(SweptFloats))]
    public void EachEngineReportsTheFloatsItsExactAdamStepSweeps(string model, string settings, long floats)
    {
        using var engine = Build(model, settings);
        Assert.Equal(floats, Assert.IsAssignableFrom<IPhaseTimed>(engine).SweptAdamFloats);
    }

    [Fact]
    public void ReplayingEnginesAndTheShortcutSweepHaveNoFloor()
    {
        using var shared = Build("bpr", "dim=20;optimizer=adam");
        ((EmbeddingEngine)shared).ReplayUnreadRows = true;
        Assert.Equal(0, ((IPhaseTimed)shared).SweptAdamFloats);
        using var lrml = Build("lrml", "dim=20;optimizer=adam");
        ((LrmlFused)lrml).ReplayUnreadRows = true;
        Assert.Equal(0, ((IPhaseTimed)lrml).SweptAdamFloats);
        // a sweep through the zero-gradient shortcut (big tables with replay off) skips work the floor assumes: no floor
        using var shortcut = Build("lrml", "dim=20;optimizer=adam");
        ((LrmlFused)shortcut).ZeroGradientShortcut = true;
        Assert.Equal(0, ((IPhaseTimed)shortcut).SweptAdamFloats);
    }

    private static TrainingMeasure Row(string optimizer, double triples, double? cap) => new()
    {
        Engine = "fused", Model = "bpr dim=64", Optimizer = optimizer, TriplesPerSecond = triples, RegistryModel = "bpr", BatchSize = 1024, Negatives = 1,
        AdamFloorCapTriplesPerSecond = cap, AdamFloorMicrosPerStep = cap is { } c ? 1024 / c * 1e6 : null,
    };

    [Fact]
    public void ATargetAboveTheFloorsCapSaysTheMachineCapsIt()
    {
        var shape = new ShapeReport
        {
            Shape = "ml-1m",
            Training = [Row("adam", 2.1e6, 4.5e6), Row("lazy-adam", 3.2e6, null)],
            Projection = new ProjectionReport { Rows = [new ProjectionRow { Model = "bpr", Engine = "fused" }] },
        };
        var checks = BenchRunner.Targets([shape]);
        var adam = checks.Single(t => t.Target == "ml-1m bpr (fused, adam) training ≥ 5 M triples/s");
        Assert.Equal(new TargetCheck(adam.Target, "2.10 M/s (exact Adam's update alone caps it at 4.50 M/s on this machine)", false), adam);
        Assert.Equal("3.20 M/s", checks.Single(t => t.Target == "ml-1m bpr (fused, lazy-adam) training ≥ 5 M triples/s").Measured);
        // a cap above the goal is not mentioned: the engine, not the machine, decides then
        var above = BenchRunner.Targets([shape with { Training = [Row("adam", 2.1e6, 8.6e6)] }]);
        Assert.Equal("2.10 M/s", Assert.Single(above).Measured);
        Assert.Equal("228 (4.50 M/s)", BenchReport.FloorCell(shape.Training[0]));   // 1,024 triples ÷ 4.5 M/s = 227.6 µs
        Assert.Equal("—", BenchReport.FloorCell(shape.Training[1]));
    }
}
