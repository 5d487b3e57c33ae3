using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Tests.Protocols;

public class NegativeSamplerTests
{
    private static UserItems Positives()
    {
        // user 0: sparse row; user 1: dense row (more than half the items) -> complement path; user 2: empty
        var users = new List<int>(); var items = new List<int>();
        foreach (var i in new[] { 1, 5, 7 }) { users.Add(0); items.Add(i); }
        for (int i = 0; i < 20; i++) if (i != 3 && i != 11 && i != 19) { users.Add(1); items.Add(i); }
        return UserItems.FromPairs(3, 20, users.ToArray(), items.ToArray());
    }

    [Fact]
    public void NeverReturnsAPositiveAndCoversTheComplementUniformly()
    {
        var pos = Positives();
        var sampler = new NegativeSampler(pos);
        var rng = new Rng(5);
        for (int u = 0; u < 3; u++)
        {
            var counts = new int[20];
            for (int k = 0; k < 30_000; k++)
            {
                int j = sampler.Sample(u, rng);
                Assert.False(pos.Contains(u, j), $"user {u} got positive {j}");
                counts[j]++;
            }
            int allowed = 20 - pos.CountOf(u);
            double expected = 30_000.0 / allowed;
            for (int j = 0; j < 20; j++)
                if (!pos.Contains(u, j)) Assert.InRange(counts[j], expected * 0.85, expected * 1.15);
        }
    }

    [Fact]
    public void DenseRowSamplesExactlyTheThreeMissingItems()
    {
        var sampler = new NegativeSampler(Positives());
        var rng = new Rng(9);
        var seen = new HashSet<int>();
        for (int k = 0; k < 200; k++) seen.Add(sampler.Sample(1, rng));
        Assert.Equal(new[] { 3, 11, 19 }, seen.OrderBy(x => x).ToArray());
    }

    [Fact]
    public void ReproducibleBySeed()
    {
        var sampler = new NegativeSampler(Positives());
        var users = new[] { 0, 1, 2, 0, 1 };
        var a = new int[10]; var b = new int[10]; var c = new int[10];
        sampler.Fill(users, a, 2, new Rng(1, "neg"));
        sampler.Fill(users, b, 2, new Rng(1, "neg"));
        sampler.Fill(users, c, 2, new Rng(2, "neg"));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void UserWithEveryItemIsRejectedWithAClearMessage()
    {
        var pos = UserItems.FromPairs(1, 3, new[] { 0, 0, 0 }, new[] { 0, 1, 2 });
        var ex = Assert.Throws<ArgumentException>(() => new NegativeSampler(pos));
        Assert.Contains("all 3 items", ex.Message);
    }

    /// <summary>2,000 items; users from empty to dense, including long rows that get bitmaps.</summary>
    private static UserItems Varied()
    {
        var rng = new Rng(17);
        var users = new List<int>(); var items = new List<int>();
        int[] lengths = [0, 1, 5, 63, 64, 65, 200, 400, 700, 999, 1000, 1001, 1500, 1999, 900, 800];
        for (int u = 0; u < lengths.Length; u++)
        {
            var set = new HashSet<int>();
            while (set.Count < lengths[u]) set.Add(rng.NextInt(2000));
            foreach (int i in set) { users.Add(u); items.Add(i); }
        }
        return UserItems.FromPairs(lengths.Length, 2000, users.ToArray(), items.ToArray());
    }

    /// <summary>The sampler's definition written the plain way: redraw while the item is in the sorted row;
    /// rows with more than half the items take the k-th item not in the row (linear scan).</summary>
    private static int ReferenceSample(UserItems pos, int u, Rng rng)
    {
        int len = pos.CountOf(u), n = pos.NumItems;
        if (len * 2 > n)
        {
            int k = rng.NextInt(n - len);
            for (int i = 0; i < n; i++)
                if (!pos.Contains(u, i) && k-- == 0) return i;
            throw new InvalidOperationException("unreachable");
        }
        while (true)
        {
            int j = rng.NextInt(n);
            if (!pos.Contains(u, j)) return j;
        }
    }

    [Fact]
    public void BitmapsChangeNoDrawAgainstThePlainDefinition()
    {
        var pos = Varied();
        var sampler = new NegativeSampler(pos);
        Assert.True(sampler.UsersWithBitmaps >= 3, $"expected the long rows to get bitmaps, got {sampler.UsersWithBitmaps}");
        var a = new Rng(3, "neg"); var b = new Rng(3, "neg");
        for (int k = 0; k < 20_000; k++)
        {
            int u = k % pos.NumUsers;
            Assert.Equal(ReferenceSample(pos, u, b), sampler.Sample(u, a));
        }
    }

    [Fact]
    public void SplitDrawGivesExactlyTheNegativesOfSample()
    {
        var pos = Varied();
        var sampler = new NegativeSampler(pos);
        var a = new Rng(8, "neg"); var b = new Rng(8, "neg");
        for (int k = 0; k < 20_000; k++)
        {
            int u = (k * 7) % pos.NumUsers;
            sampler.PrefetchUser(u);
            int c = sampler.Draw(u, a);
            sampler.Prefetch(u, c);
            Assert.Equal(sampler.Sample(u, b), sampler.Resolve(u, c, a));
        }
    }

    [Fact]
    public void MembershipMatchesTheRowsAndBitmapsStayWithinTheirBudget()
    {
        var pos = Varied();
        var sampler = new NegativeSampler(pos);
        for (int u = 0; u < pos.NumUsers; u++)
            for (int i = 0; i < pos.NumItems; i++)
                Assert.Equal(pos.Contains(u, i), sampler.IsPositive(u, i));
        Assert.False(sampler.IsPositive(9, -1));
        Assert.False(sampler.IsPositive(9, pos.NumItems));
        Assert.InRange(sampler.BitmapBytes, 1, 8L * pos.Count);
    }

    [Fact]
    public void RowContainsAnswersAsABinarySearchForEveryRowLength()
    {
        // every length from empty through the scan's vector widths to the binary search past ScanMaxRow; each row a random
        // sorted set out of 2n + 40 items, every item of that range (and just outside) tested. The row sits between −1s,
        // which the items tested include: a read outside it would find −1.
        var rng = new Rng(5, "rows");
        for (int n = 0; n <= UserItems.ScanMaxRow + 40; n++)
        {
            int universe = 2 * n + 40;
            var buffer = new int[n + 64];
            Array.Fill(buffer, -1);
            Enumerable.Range(0, universe).OrderBy(_ => rng.NextInt(1 << 30)).Take(n).Order().ToArray().CopyTo(buffer, 32);
            ReadOnlySpan<int> row = buffer.AsSpan(32, n);
            var sorted = row.ToArray();
            int members = 0;
            for (int item = -2; item < universe + 2; item++)
            {
                bool expected = Array.BinarySearch(sorted, item) >= 0;
                Assert.True(expected == UserItems.RowContains(row, item), $"row of {n} items, item {item}: expected {expected}");
                if (expected) members++;
            }
            Assert.Equal(n, members);
        }
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(3, true)]
    [InlineData(1, false)]
    [InlineData(3, false)]
    [InlineData(20, false)]   // CML's WARP draws
    public void FillGivesTheDrawsOfSampleInOrderWithAndWithoutLookahead(int perPositive, bool lookahead)
    {
        var pos = Varied();   // empty, short and long rows, rows with bitmaps and without, rows with more than half the items
        var sampler = new NegativeSampler(pos) { LookaheadMinPairs = lookahead ? 0 : int.MaxValue };
        var users = new int[997];
        var pick = new Rng(4);
        for (int b = 0; b < users.Length; b++) users[b] = pick.NextInt(pos.NumUsers);
        var got = new int[users.Length * perPositive];
        var a = new Rng(6, "neg"); var b2 = new Rng(6, "neg");
        sampler.Fill(users, got, perPositive, a);
        for (int q = 0; q < got.Length; q++) Assert.Equal(sampler.Sample(users[q / perPositive], b2), got[q]);
        Assert.Equal(b2.NextUInt64(), a.NextUInt64()); // and leaves the generator where Sample would
    }
}
