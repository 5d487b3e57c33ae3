using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Experiments.Bench;

/// <summary>
/// The bench's own training-batch filler — kept separate on purpose until the trainer's
/// Lrml.Training.NegativeSampler is on main, then the bench switches to it. Positives come from a fixed
/// shuffled order of the training pairs (one epoch = one pass) or are drawn uniformly with replacement
/// (fixed-step runs on big shapes); each positive gets k negatives drawn uniformly from all items and
/// rejected while the user has the item (binary search in the user's sorted CSR row). Allocation-free.
/// </summary>
public sealed class BenchNegativeSampler
{
    private readonly UserItems _train;
    private readonly int[] _pairUser;
    private readonly Rng _rng;
    private int[]? _order;
    private long _cursor;

    public BenchNegativeSampler(UserItems train, int[] pairUser, long seed)
    {
        _train = train; _pairUser = pairUser;
        _rng = new Rng(seed, "bench.sampler");
    }

    /// <summary>Training pairs.</summary>
    public int Pairs => _train.Count;

    /// <summary>Starts an epoch: a fresh Fisher–Yates permutation of all pairs (the permutation array is
    /// allocated once and reused).</summary>
    public void BeginEpoch()
    {
        _order ??= new int[_train.Count];
        for (int x = 0; x < _order.Length; x++) _order[x] = x;
        _rng.Shuffle<int>(_order);
        _cursor = 0;
    }

    /// <summary>Fills the next batch of the epoch; returns false when the epoch is exhausted.</summary>
    public bool NextEpochBatch(TrainingBatch batch)
    {
        if (_order is null) throw new InvalidOperationException("Call BeginEpoch first.");
        int n = (int)Math.Min(batch.Capacity, _order.Length - _cursor);
        if (n <= 0) return false;
        for (int b = 0; b < n; b++)
        {
            int pair = _order[_cursor + b];
            batch.Users[b] = _pairUser[pair]; batch.Positives[b] = _train.Items[pair];
        }
        _cursor += n;
        batch.Count = n;
        FillNegatives(batch);
        return true;
    }

    /// <summary>Fills a full batch with pairs drawn uniformly with replacement.</summary>
    public void RandomBatch(TrainingBatch batch)
    {
        int n = batch.Capacity, pairs = _train.Count;
        for (int b = 0; b < n; b++)
        {
            int pair = _rng.NextInt(pairs);
            batch.Users[b] = _pairUser[pair]; batch.Positives[b] = _train.Items[pair];
        }
        batch.Count = n;
        FillNegatives(batch);
    }

    private void FillNegatives(TrainingBatch batch)
    {
        int k = batch.NegativesPerPositive, items = _train.NumItems;
        var offsets = _train.Offsets; var all = _train.Items;
        for (int b = 0; b < batch.Count; b++)
        {
            int u = batch.Users[b];
            var row = new ReadOnlySpan<int>(all, offsets[u], offsets[u + 1] - offsets[u]);
            for (int j = 0; j < k; j++)
            {
                int c = _rng.NextInt(items);
                for (int attempt = 0; attempt < 1000 && row.BinarySearch(c) >= 0; attempt++) c = _rng.NextInt(items);
                batch.Negatives[b * k + j] = c;
            }
        }
    }
}
