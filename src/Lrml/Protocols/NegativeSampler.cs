using System.Runtime.CompilerServices;
using Lrml.Util;

namespace Lrml.Protocols;

/// <summary>
/// Draws training negatives uniformly over the items a user has no training interaction with: draw an item
/// uniformly, redraw while it is one of the user's training positives (no allocation per draw). Only training
/// positives are excluded: validation and test items are unknown to the model and may be drawn, as in the
/// protocols of the paper's period. Deterministic for a given <see cref="Rng"/> state.
/// </summary>
/// <remarks>
/// <para>Membership is a scan of the user's sorted row (a binary search past 256 items:
/// <see cref="UserItems.RowContains"/>), except for the most active users, who also get a bitmap over the items (one
/// cache line per test instead of a dozen dependent probes into a long row).
/// Pairs are drawn uniformly, so a user is drawn in proportion to their activity and the long rows are exactly the
/// ones searched most. Users get bitmaps in order of decreasing activity while the bitmaps fit in a budget of
/// 8 bytes per training pair (twice the rows themselves), and only when a bitmap is at most 8 times the size of
/// its row (rows longer than 1/256 of the items; short rows got none until Fill tested a user's 20 WARP draws in a
/// row, where a bitmap word in L1 beat a binary search of even a 64-item row: CML+WARP's draws took 247 instead of
/// 337 µs a step on the ML-1M shape, medians of 6; on ML-20M's 26,744 items the 8× rule alone keeps rows under 105
/// items out). On the ML-20M-shaped bench set that gives 48 k users bitmaps (159 MB) and, with the split draw below,
/// cut the time to fill a 1024-example batch from
/// about 140 to 50–90 µs (alone / next to training). A test answers the same either way, so the draws are identical with or
/// without bitmaps.</para>
/// <para>For batch fillers that prefetch, a draw splits into <see cref="Draw"/> (the first candidate, drawn
/// before it can be tested), <see cref="Prefetch"/> and <see cref="Resolve(int, int, Rng)"/>; the split gives exactly the
/// negatives of <see cref="Sample"/>.</para>
/// <para>Users with more than half of all items draw among their complement directly (the k-th non-positive),
/// which consumes one random number per draw and no rejections.</para>
/// </remarks>
internal sealed class NegativeSampler
{
    private readonly UserItems _positives;
    private readonly int[] _offsets, _items;
    private readonly int _numItems, _words;
    private readonly int[] _bitmapOf; // per user: index of their bitmap (in units of _words), or −1
    private readonly ulong[] _bits;

    /// <summary>Rows of at most this many items (16 cache lines) are prefetched whole; longer rows at their
    /// first three binary-search probes.</summary>
    private const int WholeRowPrefetch = UserItems.ScanMaxRow;

    /// <summary>Bitmap memory allowed per training pair (twice the 4 bytes of the pair in the rows). Measured on the
    /// ML-20M shape, sampling a 1024-example batch alone: no bitmaps 112 µs, 4 bytes 62 µs, 8 bytes 48 µs,
    /// 16 bytes 41 µs (p25 of 60 rounds).</summary>
    private const int BudgetBytesPerPair = 8;

    /// <summary>Creates a sampler over the given training positives.</summary>
    /// <exception cref="ArgumentException">When some user has interacted with every item, so no negative exists.</exception>
    public NegativeSampler(UserItems positives)
    {
        ArgumentNullException.ThrowIfNull(positives);
        _positives = positives;
        _offsets = positives.Offsets; _items = positives.Items;
        _numItems = positives.NumItems;
        for (int u = 0; u < positives.NumUsers; u++)
            if (positives.CountOf(u) >= _numItems)
                throw new ArgumentException(
                    $"User index {u} has interacted with all {_numItems} items, so no negative can be sampled for it. " +
                    "Remove such users (e.g. a k-core filter) before training.");
        _words = (_numItems + 63) >> 6;
        (_bitmapOf, _bits) = BuildBitmaps(positives, _words);
    }

    /// <summary>Users that got a membership bitmap (the most active ones; see the remarks).</summary>
    public int UsersWithBitmaps { get; private set; }

    /// <summary>Bytes held by the bitmaps.</summary>
    public long BitmapBytes => (long)_bits.Length * sizeof(ulong);

    private (int[] Of, ulong[] Bits) BuildBitmaps(UserItems pos, int words)
    {
        int users = pos.NumUsers;
        var of = new int[users];
        Array.Fill(of, -1);
        long rowBytesMin = (long)words * sizeof(ulong) / 8; // a bitmap may be at most 8× its row
        var candidates = new List<int>();
        for (int u = 0; u < users; u++)
        {
            int len = pos.CountOf(u);
            if ((long)len * sizeof(int) >= rowBytesMin && len * 2 <= _numItems) candidates.Add(u);
        }
        if (candidates.Count == 0) return (of, []);
        // most active first; ties by user index, so the choice is deterministic
        candidates.Sort((a, b) => pos.CountOf(b) != pos.CountOf(a) ? pos.CountOf(b).CompareTo(pos.CountOf(a)) : a.CompareTo(b));
        long budgetWords = (long)pos.Count * BudgetBytesPerPair / sizeof(ulong);
        int chosen = (int)Math.Min(candidates.Count, Math.Min(budgetWords / words, (Array.MaxLength - 64) / words));
        if (chosen == 0) return (of, []);
        var bits = Lrml.Util.LargeArrays.Of<ulong>((long)chosen * words); // random reads: huge pages help
        for (int c = 0; c < chosen; c++)
        {
            int u = candidates[c];
            of[u] = c;
            long baseWord = (long)c * words;
            foreach (int i in pos[u]) bits[baseWord + (i >> 6)] |= 1UL << (i & 63);
        }
        UsersWithBitmaps = chosen;
        return (of, bits);
    }

    /// <summary>Whether <paramref name="item"/> is one of the user's training positives (false outside the item range).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsPositive(int user, int item)
    {
        if ((uint)item >= (uint)_numItems) return false;
        int b = _bitmapOf[user];
        if (b >= 0) return (_bits[(long)b * _words + (item >> 6)] & (1UL << (item & 63))) != 0;
        return UserItems.RowContains(_positives[user], item);
    }

    /// <summary>One negative for <paramref name="user"/>.</summary>
    public int Sample(int user, Rng rng) => Resolve(user, Draw(user, rng), rng, out _);

    /// <summary>
    /// The first half of a draw split in two for prefetching: the first candidate for <paramref name="user"/>
    /// (drawn now, from <paramref name="rng"/>); <see cref="Resolve(int, int, Rng)"/> with the same generator finishes it.
    /// <c>Resolve(u, Draw(u, rng), rng)</c> equals <c>Sample(u, rng)</c> for every generator state.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Draw(int user, Rng rng)
    {
        int len = _offsets[user + 1] - _offsets[user];
        return len * 2 > _numItems ? rng.NextInt(_numItems - len) : rng.NextInt(_numItems);
    }

    /// <summary>Hints the CPU to fetch the per-user entries that <see cref="Draw"/> and <see cref="Prefetch"/> read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchUser(int user)
    {
        CacheHint.Prefetch(_offsets, user);
        CacheHint.Prefetch(_bitmapOf, user);
    }

    /// <summary>Hints the CPU to fetch what <see cref="Resolve(int, int, Rng)"/> will read to test <paramref name="candidate"/>
    /// (the bitmap word, or the row: whole when short, else its first probe points). Never faults; a no-op
    /// where unsupported.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(int user, int candidate)
    {
        int b = _bitmapOf[user];
        if (b >= 0) { CacheHint.Prefetch(_bits, (long)b * _words + ((uint)candidate >> 6)); return; }
        int lo = _offsets[user], len = _offsets[user + 1] - lo;
        if (len <= WholeRowPrefetch) { for (int q = 0; q < len; q += 16) CacheHint.Prefetch(_items, lo + q); return; }   // (none if empty)
        CacheHint.Prefetch(_items, lo + len / 2);
        CacheHint.Prefetch(_items, lo + len / 4);
        CacheHint.Prefetch(_items, lo + 3 * len / 4);
    }

    /// <summary>The second half of a split draw: the negative that <see cref="Sample"/> would have returned,
    /// given the <paramref name="candidate"/> from <see cref="Draw"/> (redrawing from <paramref name="rng"/> on
    /// rejection).</summary>
    public int Resolve(int user, int candidate, Rng rng) => Resolve(user, candidate, rng, out _);

    /// <summary><see cref="Resolve(int, int, Rng)"/>, also telling whether the candidate was rejected (so more than
    /// one number was drawn for this negative).</summary>
    private int Resolve(int user, int candidate, Rng rng, out bool redrawn)
    {
        redrawn = false;
        int len = _offsets[user + 1] - _offsets[user];
        if (len * 2 > _numItems) return KthNonPositive(_positives[user], candidate);
        int j = candidate;
        while (IsPositive(user, j)) { j = rng.NextInt(_numItems); redrawn = true; }
        return j;
    }

    /// <summary>
    /// Fills negatives for a batch: <paramref name="negatives"/>[b·k + j] for user users[b], drawn in that order
    /// from <paramref name="rng"/>: exactly the values of calling <see cref="Sample"/> for each in turn.
    /// </summary>
    /// <remarks>On big training sets (at least <see cref="LookaheadMinPairs"/> pairs) it prefetches what the next
    /// draws will test: a second generator runs a few draws ahead of <paramref name="rng"/> (on a copy of its state,
    /// assuming no rejections), so the bitmap word or row of each upcoming candidate is already being fetched
    /// when it is tested; after a rejection the copy is re-synchronised. The copy only steers prefetches, never
    /// the values. Safe to call from several threads (each has its own copy).</remarks>
    public void Fill(ReadOnlySpan<int> users, Span<int> negatives, int perPositive, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (perPositive < 1) throw new ArgumentOutOfRangeException(nameof(perPositive), perPositive, "perPositive must be ≥ 1.");
        int total = users.Length * perPositive;
        if (negatives.Length < total) throw new ArgumentException($"negatives holds {negatives.Length} entries, {total} needed.", nameof(negatives));
        if (_positives.Count < LookaheadMinPairs || total <= Ahead) { FillInCache(users, negatives, perPositive, rng); return; }
        var la = t_lookahead ??= new Rng(1);
        Span<int> predicted = stackalloc int[Ahead];
        int laNext = 0; // flat index of the lookahead generator's next draw
        void Resync(int from, Span<int> pred, ReadOnlySpan<int> us)
        {
            la.CopyStateFrom(rng);
            laNext = from;
            for (int x = 0; x < Ahead && laNext < total; x++) Advance(pred, us);
        }
        void Advance(Span<int> pred, ReadOnlySpan<int> us)
        {
            int u = us[laNext / perPositive], c = Draw(u, la);
            pred[laNext % Ahead] = c;
            Prefetch(u, c);
            laNext++;
        }
        for (int x = 0; x < 2 * Ahead && x < users.Length; x++) PrefetchUser(users[x]);
        Resync(0, predicted, users);
        for (int q = 0; q < total; q++)
        {
            int b = q / perPositive, u = users[b];
            if (q % perPositive == 0 && b + 2 * Ahead < users.Length) PrefetchUser(users[b + 2 * Ahead]);
            int c = Draw(u, rng);
            bool inStep = c == predicted[q % Ahead];
            negatives[q] = Resolve(u, c, rng, out bool redrawn);
            if (!inStep || redrawn) Resync(q + 1, predicted, users);
            else if (laNext < total) Advance(predicted, users);
        }
    }

    /// <summary>
    /// <see cref="Fill"/> on training sets that fit in the caches: <see cref="Sample"/>'s draws in its order (one number, then one
    /// more per rejection; the k-th non-positive for users with more than half the items), with what a user's draws test —
    /// the row's bounds, the bitmap's place or the row — looked up once per user instead of once per draw, and no division
    /// per draw. CML's WARP draws 20 negatives per positive this way on one thread, where the per-draw form cost ≈ 18 ns.
    /// </summary>
    private void FillInCache(ReadOnlySpan<int> users, Span<int> negatives, int perPositive, Rng rng)
    {
        int n = _numItems, q = 0;
        foreach (int u in users)
        {
            int lo = _offsets[u], len = _offsets[u + 1] - lo, b = _bitmapOf[u];
            var row = _items.AsSpan(lo, len);
            var bits = b >= 0 ? _bits.AsSpan((int)((long)b * _words), _words) : default;   // within int range: see BuildBitmaps
            for (int j = 0; j < perPositive; j++, q++)
            {
                if (len * 2 > n) { negatives[q] = KthNonPositive(row, rng.NextInt(n - len)); continue; }
                int c = rng.NextInt(n);
                while (b >= 0 ? (bits[c >> 6] & (1UL << (c & 63))) != 0 : UserItems.RowContains(row, c)) c = rng.NextInt(n);
                negatives[q] = c;
            }
        }
    }

    /// <summary>Draws the lookahead generator runs ahead of the real one in <see cref="Fill"/>.</summary>
    private const int Ahead = 8;

    [ThreadStatic] private static Rng? t_lookahead;

    /// <summary>Training sets with fewer pairs fit in the caches, and <see cref="Fill"/> draws without lookahead.
    /// Settable for tests.</summary>
    internal int LookaheadMinPairs { get; set; } = 1 << 21;

    /// <summary>The k-th (0-based) item not in the sorted row.</summary>
    private static int KthNonPositive(ReadOnlySpan<int> row, int k)
    {
        // The answer x satisfies x - (#row entries < x) == k and x not in row; binary search on row index.
        int lo = 0, hi = row.Length; // number of row entries below the answer
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            // items strictly below row[mid] that are not positives: row[mid] - mid
            if (row[mid] - mid <= k) lo = mid + 1; else hi = mid;
        }
        return k + lo;
    }
}
