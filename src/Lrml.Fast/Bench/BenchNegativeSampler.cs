using Lrml.Models;
using Lrml.Fast;
using Lrml.Protocols;
using Lrml.Training;
using Lrml.Util;

namespace Lrml.Fast.Bench;

/// <summary>
/// Training batches for the bench. Positives come from a shuffled order of the training pairs (one epoch =
/// one pass) or are drawn uniformly with replacement (fixed-step runs on big shapes); negatives come from the
/// trainer's <see cref="NegativeSampler"/> (uniform over the items the user has not trained on). A batch is
/// filled in fixed parts of 128 examples in parallel, each part with its own generator seeded from
/// (seed, batch number, part), so batches are the same for every thread count. Allocation-free after
/// construction.
/// </summary>
public sealed class BenchNegativeSampler : IDisposable
{
    private const int Part = 128;
    private readonly UserItems _train;
    private readonly NegativeSampler _negatives;
    private readonly int[] _pairUser;
    private readonly ulong _seed;
    private readonly Rng _shuffle;
    private readonly WorkerPool _pool;
    private readonly Work _work;
    private Rng[] _rngs = [];
    private int[]? _order;
    private long _cursor, _batchNo;

    /// <param name="train">Training positives (CSR, sorted rows).</param>
    /// <param name="pairUser">User of each training pair (pair p is train.Items[p]).</param>
    /// <param name="seed">Run seed.</param>
    /// <param name="threads">Threads filling one batch.</param>
    public BenchNegativeSampler(UserItems train, int[] pairUser, long seed, int threads = 1)
    {
        if (pairUser.Length != train.Count) throw new ArgumentException("pairUser must have one entry per training pair.");
        _train = train; _pairUser = pairUser;
        _negatives = new NegativeSampler(train);
        _seed = Rng.Mix((ulong)seed, "bench.sampler");
        _shuffle = new Rng(seed, "bench.sampler.shuffle");
        _pool = new WorkerPool(Math.Max(1, threads));
        _work = new Work(this);
    }

    /// <summary>Training pairs.</summary>
    public int Pairs => _train.Count;

    /// <summary>Starts an epoch: a fresh Fisher–Yates permutation of all pairs (the array is reused).</summary>
    public void BeginEpoch()
    {
        _order ??= new int[_train.Count];
        for (int x = 0; x < _order.Length; x++) _order[x] = x;
        _shuffle.Shuffle<int>(_order);
        _cursor = 0;
    }

    /// <summary>Fills the next batch of the epoch; returns false when the epoch is exhausted.</summary>
    public bool NextEpochBatch(TrainingBatch batch)
    {
        if (_order is null) throw new InvalidOperationException("Call BeginEpoch first.");
        int n = (int)Math.Min(batch.Capacity, _order.Length - _cursor);
        if (n <= 0) return false;
        Fill(batch, n, fromOrder: true);
        _cursor += n;
        return true;
    }

    /// <summary>Fills a full batch with pairs drawn uniformly with replacement.</summary>
    public void RandomBatch(TrainingBatch batch) => Fill(batch, batch.Capacity, fromOrder: false);

    private TrainingBatch? _batch;
    private bool _fromOrder;

    private void Fill(TrainingBatch batch, int n, bool fromOrder)
    {
        int parts = (n + Part - 1) / Part;
        if (_rngs.Length < parts)
        {
            var grown = new Rng[parts];
            for (int x = 0; x < parts; x++) grown[x] = x < _rngs.Length ? _rngs[x] : new Rng(1);
            _rngs = grown;
        }
        batch.Count = n;
        _batch = batch; _fromOrder = fromOrder;
        _pool.Run(_work, parts);
        _batch = null;
        _batchNo++;
    }

    private void FillPart(int part)
    {
        var batch = _batch!;
        var rng = _rngs[part];
        Span<ulong> state = stackalloc ulong[4];
        ulong x = _seed ^ ((ulong)_batchNo * 0x9E3779B97F4A7C15UL) ^ ((ulong)part * 0xD1B54A32D192ED03UL);
        for (int w = 0; w < 4; w++) state[w] = SplitMix(ref x);
        rng.SetState(state);
        int b0 = part * Part, b1 = Math.Min(batch.Count, b0 + Part);
        int k = batch.NegativesPerPositive, pairs = _train.Count;
        var all = _train.Items;
        // Four passes, so that the random reads of each pass were prefetched by the one before: pair indices
        // (prefetch their user and item), users (prefetch the user's row offsets), first candidates (drawn
        // before they can be tested; prefetch the bitmap word or row probes that test them), then the tests
        // (redrawing on rejection). A candidate is resolved exactly as NegativeSampler.Sample would.
        for (int b = b0; b < b1; b++)
        {
            int pair = _fromOrder ? _order![_cursor + b] : rng.NextInt(pairs);
            batch.Positives[b] = pair;
            CacheHint.Prefetch(_pairUser, pair); CacheHint.Prefetch(all, pair);
        }
        for (int b = b0; b < b1; b++)
        {
            int pair = batch.Positives[b], u = _pairUser[pair];
            batch.Users[b] = u; batch.Positives[b] = all[pair];
            _negatives.PrefetchUser(u);
        }
        var neg = batch.Negatives;
        for (int b = b0; b < b1; b++)
        {
            int u = batch.Users[b];
            for (int j = 0; j < k; j++)
            {
                int c = _negatives.Draw(u, rng);
                neg[b * k + j] = c;
                _negatives.Prefetch(u, c);
            }
        }
        for (int b = b0; b < b1; b++)
        {
            int u = batch.Users[b];
            for (int j = 0; j < k; j++) neg[b * k + j] = _negatives.Resolve(u, neg[b * k + j], rng);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private sealed class Work(BenchNegativeSampler s) : IParallelWork
    {
        public string Phase => "bench sampling";
        public void Execute(int item, int worker) => s.FillPart(item);
    }

    public void Dispose() => _pool.Dispose();
}
