using BenchmarkDotNet.Attributes;
using Lrml.Fast.Bench;
using Lrml.Models;
using Lrml.Fast;
using Lrml.Training;

namespace Lrml.Benchmarks;

/// <summary>Shared ML-1M-shaped synthetic data (Zipf-like popularity) and pre-sampled batches.</summary>
internal static class BenchData
{
    private static SyntheticShapeData? _ml1m;
    public static SyntheticShapeData Ml1m => _ml1m ??= SyntheticShapeData.Generate(ShapeSpec.Ml1m, seed: 1, threads: 2);

    public static TrainingBatch[] Batches(SyntheticShapeData data, int count, int size, int k)
    {
        using var sampler = new BenchNegativeSampler(data.Train, data.PairUser, seed: 7, threads: 1);
        var batches = new TrainingBatch[count];
        for (int x = 0; x < count; x++) { batches[x] = new TrainingBatch(size, k); sampler.RandomBatch(batches[x]); }
        return batches;
    }
}

/// <summary>One fused training step on a batch of 1024 triples (ML-1M shape), per optimiser, model size and
/// thread count. Divide 1024 by the mean time for triples per second.</summary>
[MemoryDiagnoser]
public class FusedTrainStepBenchmarks
{
    [Params("100x20", "50x10")] public string Model { get; set; } = "100x20";
    [Params(OptimizerKind.LazyAdam, OptimizerKind.Adam)] public OptimizerKind Optimizer { get; set; }
    [Params(1, 2)] public int Threads { get; set; }

    private LrmlFused _model = null!;
    private TrainingBatch[] _batches = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Model.Split('x');
        var data = BenchData.Ml1m;
        var cfg = new LrmlConfig { Dim = int.Parse(parts[0]), Slots = int.Parse(parts[1]), Optimizer = Optimizer };
        _model = LrmlFused.Create(cfg, data.Shape.Users, data.Shape.Items, seed: 1, new FusedOptions { Threads = Threads });
        _batches = BenchData.Batches(data, 64, 1024, 1);
    }

    [Benchmark(OperationsPerInvoke = 1)]
    public double TrainStep() => _model.TrainStep(_batches[_next++ & 63]);

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();
}

/// <summary>Evaluation kernels on the ML-1M shape: full ranking of a chunk of 64 users (every item) and sampled
/// scoring of 64 users × 100 candidates.</summary>
[MemoryDiagnoser]
public class FusedScoringBenchmarks
{
    [Params("100x20", "50x10")] public string Model { get; set; } = "100x20";
    [Params(1, 2)] public int Threads { get; set; }

    private LrmlFused _model = null!;
    private readonly int[] _users = new int[64];
    private float[] _all = [];
    private int[] _pu = [], _pi = [];
    private float[] _ps = [];

    [GlobalSetup]
    public void Setup()
    {
        var parts = Model.Split('x');
        var data = BenchData.Ml1m;
        var cfg = new LrmlConfig { Dim = int.Parse(parts[0]), Slots = int.Parse(parts[1]), Optimizer = OptimizerKind.LazyAdam };
        _model = LrmlFused.Create(cfg, data.Shape.Users, data.Shape.Items, seed: 1, new FusedOptions { Threads = Threads });
        for (int x = 0; x < 64; x++) _users[x] = x * 90;
        _all = new float[64 * data.Shape.Items];
        _pu = new int[64 * 100]; _pi = new int[64 * 100]; _ps = new float[64 * 100];
        for (int x = 0; x < _pu.Length; x++) { _pu[x] = _users[x / 100]; _pi[x] = data.Candidates[_users[x / 100] * 100 + x % 100]; }
        _model.ScoreAllItems(_users, _all); // builds the item-side cache once
    }

    [Benchmark]
    public void ScoreAllItems64Users() => _model.ScoreAllItems(_users, _all);

    [Benchmark]
    public void ScorePairs64x100() => _model.ScorePairs(_pu, _pi, _ps);

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();
}

/// <summary>The TorchSharp reference train step (dense Adam) on the same batches, for the ratio.</summary>
[MemoryDiagnoser]
public class TorchTrainStepBenchmarks
{
    [Params("100x20")] public string Model { get; set; } = "100x20";
    [Params(2)] public int Threads { get; set; }

    private LrmlModel _model = null!;
    private TrainingBatch[] _batches = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Model.Split('x');
        var data = BenchData.Ml1m;
        var cfg = new LrmlConfig { Dim = int.Parse(parts[0]), Slots = int.Parse(parts[1]), Optimizer = OptimizerKind.Adam };
        ComputeThreads.Set(Threads);
        _model = new LrmlModel(cfg, data.Shape.Users, data.Shape.Items, seed: 1);
        _batches = BenchData.Batches(data, 64, 1024, 1);
    }

    [Benchmark]
    public double TrainStep() => _model.TrainStep(_batches[_next++ & 63]);

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();
}
