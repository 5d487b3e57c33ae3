using System.Globalization;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Fast.Bench;

/// <summary>A dataset shape to benchmark on: users, items and training interactions.</summary>
/// <param name="Name">Shape name, e.g. "ml-1m".</param>
/// <param name="Users">Number of users.</param>
/// <param name="Items">Number of items.</param>
/// <param name="Interactions">Training (user, item) pairs.</param>
public sealed record ShapeSpec(string Name, int Users, int Items, long Interactions)
{
    /// <summary>MovieLens-1M: 6,040 × 3,706, 994,169 training pairs (1,000,209 ratings minus one held-out item per user).</summary>
    public static ShapeSpec Ml1m { get; } = new("ml-1m", 6_040, 3_706, 994_169);

    /// <summary>MovieLens-20M: 138,493 × 26,744, 20,000,263 ratings minus one held-out item per user.</summary>
    public static ShapeSpec Ml20m { get; } = new("ml-20m", 138_493, 26_744, 19_861_770);

    /// <summary>Netflix Prize: 480,189 × 17,770, 100,480,507 ratings minus one held-out item per user.</summary>
    public static ShapeSpec Netflix { get; } = new("netflix", 480_189, 17_770, 100_000_318);

    /// <summary>A tiny shape for quick runs and CI (seconds).</summary>
    public static ShapeSpec Tiny { get; } = new("tiny", 600, 400, 24_000);

    /// <summary>Looks a shape up by name (ml-1m, ml-20m, netflix, tiny) or reads users x items x pairs (e.g. 6040x17770x994169).</summary>
    public static ShapeSpec Parse(string name) => name.ToLowerInvariant() switch
    {
        "ml-1m" or "ml1m" => Ml1m,
        "ml-20m" or "ml20m" => Ml20m,
        "netflix" => Netflix,
        "tiny" => Tiny,
        var t when t.Split('x') is [var u, var i, var p] && int.TryParse(u, NumberStyles.None, CultureInfo.InvariantCulture, out int users) && users > 0
            && int.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture, out int items) && items > 0
            && long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out long pairs) && pairs >= users && pairs <= (long)users * items / 2 => new(t, users, items, pairs),
        _ => throw new ArgumentException($"Unknown bench shape '{name}' (known: ml-1m, ml-20m, netflix, tiny, or USERSxITEMSxPAIRS with positive integers, " +
                                         "at least one pair per user and a density of at most 50%)."),
    };
}

/// <summary>
/// Synthetic interactions of a given shape, close to real rating data in the two ways that matter for
/// speed: item popularity is Zipf-like (p(rank r) ∝ 1/(r + 50), so a few items are hot and cache-resident,
/// the tail is cold) and user activity is log-normal (a few very active users). Each user also gets one
/// held-out test item outside their training items and 99 sampled negatives for sampled evaluation.
/// Deterministic in the seed for any thread count.
/// </summary>
public sealed class SyntheticShapeData
{
    /// <summary>The shape generated.</summary>
    public ShapeSpec Shape { get; }
    /// <summary>Training positives per user (sorted, unique).</summary>
    public UserItems Train { get; }
    /// <summary>User of each training pair (pair p = Train.Items[p]).</summary>
    public int[] PairUser { get; }
    /// <summary>One held-out test item per user (not in the user's training items).</summary>
    public int[] TestItem { get; }
    /// <summary>Sampled-evaluation candidates, users × 100: the test item first, then 99 negatives.</summary>
    public int[] Candidates { get; }
    /// <summary>Candidates per user (100).</summary>
    public const int CandidatesPerUser = 100;

    private SyntheticShapeData(ShapeSpec shape, UserItems train, int[] pairUser, int[] test, int[] candidates)
    {
        Shape = shape; Train = train; PairUser = pairUser; TestItem = test; Candidates = candidates;
    }

    /// <summary>Generates the data (parallel over fixed user blocks, each with its own RNG stream).</summary>
    public static SyntheticShapeData Generate(ShapeSpec shape, long seed, int threads)
    {
        int users = shape.Users, items = shape.Items;
        if (shape.Interactions > (long)users * items / 2) throw new ArgumentException("Too many interactions for the shape (density > 50%).");
        if (shape.Interactions > Array.MaxLength) throw new ArgumentException("Too many interactions for one array.");
        // item popularity: Zipf-like over a random permutation of item ids, sampled through an alias table
        var perm = new int[items];
        for (int i = 0; i < items; i++) perm[i] = i;
        new Rng(seed, "bench.data.itemperm").Shuffle<int>(perm);
        var weights = new double[items];
        for (int r = 0; r < items; r++) weights[perm[r]] = 1.0 / (r + 50);
        var alias = new AliasTable(weights);

        // user activity: log-normal weights, at least 5 items, at most items / 3
        var ru = new Rng(seed, "bench.data.activity");
        var w = new double[users];
        double sum = 0;
        for (int u = 0; u < users; u++) { w[u] = Math.Exp(1.1 * ru.NextGaussian()); sum += w[u]; }
        int min = (int)Math.Min(5, shape.Interactions / users), cap = Math.Max(min, items / 3);
        var counts = new int[users];
        long total = 0, target = shape.Interactions;
        for (int u = 0; u < users; u++)
        {
            counts[u] = (int)Math.Clamp((long)(w[u] / sum * (target - (long)min * users)) + min, min, cap);
            total += counts[u];
        }
        // adjust to the exact total, round-robin over users
        for (int u = 0; total != target; u = (u + 1) % users)
        {
            if (total < target && counts[u] < cap) { counts[u]++; total++; }
            else if (total > target && counts[u] > min) { counts[u]--; total--; }
        }
        var offsets = new int[users + 1];
        for (int u = 0; u < users; u++) offsets[u + 1] = offsets[u] + counts[u];
        var flat = new int[total];
        var pairUser = new int[total];
        var test = new int[users];
        var cand = new int[(long)users * CandidatesPerUser];
        const int block = 1024;
        int blocks = (users + block - 1) / block;
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) },
            () => new int[items],
            (blk, _, mark) =>
            {
                var rng = new Rng(seed ^ (long)blk * 0x5851F42D4C957F2DL, "bench.data.block");
                int u0 = blk * block, u1 = Math.Min(users, u0 + block);
                for (int u = u0; u < u1; u++)
                {
                    int stamp = u + 1;
                    var row = flat.AsSpan(offsets[u], counts[u]);
                    for (int x = 0; x < row.Length; x++)
                    {
                        int i = -1;
                        for (int attempt = 0; attempt < 8 && i < 0; attempt++)
                        {
                            int c = alias.Sample(rng);
                            if (mark[c] != stamp) i = c;
                        }
                        while (i < 0) { int c = rng.NextInt(items); if (mark[c] != stamp) i = c; }
                        mark[i] = stamp; row[x] = i;
                    }
                    row.Sort();
                    pairUser.AsSpan(offsets[u], counts[u]).Fill(u);
                    // held-out item (popularity-distributed), then 99 uniform negatives outside train ∪ test
                    int t = -1;
                    for (int attempt = 0; attempt < 64 && t < 0; attempt++) { int c = alias.Sample(rng); if (mark[c] != stamp) t = c; }
                    while (t < 0) { int c = rng.NextInt(items); if (mark[c] != stamp) t = c; }
                    test[u] = t; mark[t] = stamp;
                    var cu = cand.AsSpan((int)((long)u * CandidatesPerUser), CandidatesPerUser);
                    cu[0] = t;
                    for (int x = 1; x < CandidatesPerUser; x++)
                    {
                        int c;
                        do c = rng.NextInt(items); while (mark[c] == stamp);
                        mark[c] = stamp; cu[x] = c;
                    }
                }
                return mark;
            }, _ => { });
        return new SyntheticShapeData(shape, new UserItems(users, items, offsets, flat), pairUser, test, cand);
    }
}

/// <summary>Walker/Vose alias table: O(1) sampling from a discrete distribution.</summary>
internal sealed class AliasTable
{
    private readonly double[] _prob;
    private readonly int[] _alias;

    public AliasTable(ReadOnlySpan<double> weights)
    {
        int n = weights.Length;
        _prob = new double[n]; _alias = new int[n];
        double sum = 0;
        foreach (var x in weights) sum += x;
        var scaled = new double[n];
        var small = new Stack<int>(); var large = new Stack<int>();
        for (int i = 0; i < n; i++)
        {
            scaled[i] = weights[i] * n / sum;
            (scaled[i] < 1 ? small : large).Push(i);
        }
        while (small.Count > 0 && large.Count > 0)
        {
            int s = small.Pop(), l = large.Pop();
            _prob[s] = scaled[s]; _alias[s] = l;
            scaled[l] = scaled[l] + scaled[s] - 1;
            (scaled[l] < 1 ? small : large).Push(l);
        }
        while (large.Count > 0) _prob[large.Pop()] = 1;
        while (small.Count > 0) _prob[small.Pop()] = 1;
    }

    public int Sample(Rng rng)
    {
        int i = rng.NextInt(_prob.Length);
        return rng.NextDouble() < _prob[i] ? i : _alias[i];
    }
}
