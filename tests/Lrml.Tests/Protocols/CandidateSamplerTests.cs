using Lrml.Evaluation;
using Lrml.Protocols;
using Lrml.Util;
using static Lrml.Tests.Protocols.ProtocolTestData;

namespace Lrml.Tests.Protocols;

public class CandidateSamplerTests
{
    private static Split ToySplit(long seed = 4) =>
        LeaveLastOut.Build(ProtocolTestData.Random(70, 60, 45, seed: 8), new LeaveLastOutOptions { SampledNegatives = 0 }, seed);

    [Fact]
    public void NeverReturnsAnInteractedItem_DistinctAndComplete()
    {
        var split = ToySplit();
        foreach (var target in new[] { EvalTarget.Validation, EvalTarget.Test })
        {
            var held = target == EvalTarget.Test ? split.Test : split.Validation;
            var neg = CandidateSampler.Sample(split, target, 20, seed: 1);
            AssertNegativesClean(split, neg, held, 20);
            for (int u = 0; u < neg.NumUsers; u++)
            {
                var row = neg[u];
                for (int j = 1; j < row.Length; j++) Assert.True(row[j] > row[j - 1], "negatives must be distinct (ascending)");
            }
        }
    }

    [Fact]
    public void ReproducibleBySeed_DifferentAcrossSeeds_AndValidationStreamDiffersFromTest()
    {
        var split = ToySplit();
        var a = CandidateSampler.Sample(split, EvalTarget.Test, 15, seed: 3);
        var b = CandidateSampler.Sample(split, EvalTarget.Test, 15, seed: 3);
        var c = CandidateSampler.Sample(split, EvalTarget.Test, 15, seed: 4);
        Assert.True(a.SetEquals(b));
        Assert.False(a.SetEquals(c));
        // a user with both held-out sets gets different negatives from the two streams (all users here, almost surely)
        var v = CandidateSampler.Sample(split, EvalTarget.Validation, 15, seed: 3);
        int same = 0, both = 0;
        for (int u = 0; u < split.NumUsers; u++)
        {
            if (split.Validation.CountOf(u) == 0 || split.Test.CountOf(u) == 0) continue;
            both++;
            if (v[u].SequenceEqual(a[u])) same++;
        }
        Assert.True(both > 20);
        Assert.Equal(0, same);
    }

    [Fact]
    public void UserWithFewerThanKFreeItems_GetsAllOfThem_AndIsCounted()
    {
        // 1 user, 6 items: train {0,1,2}, test {3} → free items {4,5}; K = 4
        var train = UserItems.FromPairs(1, 6, [0, 0, 0], [0, 1, 2]);
        var test = UserItems.FromPairs(1, 6, [0], [3]);
        var split = new Split { Dataset = "t", Protocol = "p", Train = train, Validation = UserItems.Empty(1, 6), Test = test };
        var neg = CandidateSampler.Sample(split, EvalTarget.Test, 4, 0, out int usersShort);
        Assert.Equal([4, 5], neg[0].ToArray());
        Assert.Equal(1, usersShort);
        var attached = CandidateSampler.WithSampledCandidates(split, 4, 0);
        Assert.Equal("1", attached.Notes["candidates.test.users_short"]);
        Assert.Null(attached.ValidationNegatives); // no validation items → no validation candidates
    }

    [Fact]
    public void DenseAndSparseUsersAreBothUniform()
    {
        // sparse user (1 known of 100 items) uses rejection; dense user (70 known) enumerates the complement.
        // Each free item should be drawn with probability K / free.
        const int ni = 100, k = 10, runs = 3000;
        var train = UserItems.FromPairs(2, ni, Enumerable.Repeat(0, 1).Concat(Enumerable.Repeat(1, 70)).ToArray(),
            new[] { 0 }.Concat(Enumerable.Range(0, 70)).ToArray());
        var test = UserItems.FromPairs(2, ni, [0, 1], [50, 80]);
        var counts = new int[2, ni];
        var rng = new Rng(5, "uniformity");
        for (int r = 0; r < runs; r++)
        {
            var neg = CandidateSampler.Sample(test, [train, test], k, rng, out _);
            for (int u = 0; u < 2; u++) foreach (int i in neg[u]) counts[u, i]++;
        }
        // user 0: 98 free items, expected 3000·10/98 ≈ 306; user 1: 29 free items, expected ≈ 1034
        for (int i = 0; i < ni; i++)
        {
            bool free0 = i != 0 && i != 50, free1 = i >= 70 && i != 80;
            if (free0) Assert.InRange(counts[0, i], 306 - 85, 306 + 85); else Assert.Equal(0, counts[0, i]);
            if (free1) Assert.InRange(counts[1, i], 1034 - 150, 1034 + 150); else Assert.Equal(0, counts[1, i]);
        }
    }
}
