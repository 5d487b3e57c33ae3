using Lrml.Models;
using Lrml.Fast;
using static Lrml.Tests.Fast.FusedTestData;

namespace Lrml.Tests.Fast;

/// <summary>ScorePairs (direct formula), ScoreAllItems (per-user GEMM + expanded distance) and Explain.</summary>
public class FusedScoringTests
{
    private const int U = 9, I = 37; // 37 items: not a multiple of any item block

    public static TheoryData<LrmlDistance, NormConstraint, bool> Cases()
    {
        var data = new TheoryData<LrmlDistance, NormConstraint, bool>();
        foreach (var dist in Enum.GetValues<LrmlDistance>())
            foreach (var nc in Enum.GetValues<NormConstraint>())
                foreach (bool exact in new[] { false, true })
                    data.Add(dist, nc, exact);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ScoreAllItemsEqualsScorePairsAndTheDirectFormula(LrmlDistance dist, NormConstraint nc, bool exact)
    {
        var cfg = Config(dist, nc: nc, dim: 19, slots: 7);
        var p = Params(cfg, users: U, items: I);
        using var engine = new LrmlFused(cfg, p, new FusedOptions { Threads = 2, ExactRelationScoring = exact });
        int[] users = [0, 1, 2, 3, 4, 5, 6, 7, 8];
        var all = new float[users.Length * I];
        engine.ScoreAllItems(users, all);
        var pu = users.SelectMany(u => Enumerable.Repeat(u, I)).ToArray();
        var pi = users.SelectMany(_ => Enumerable.Range(0, I)).ToArray();
        var pairs = new float[pu.Length];
        engine.ScorePairs(pu, pi, pairs);
        var reference = new LrmlScalarReference(cfg, p);
        for (int x = 0; x < pu.Length; x++)
        {
            double r = reference.Score(pu[x], pi[x]);
            Assert.True(Math.Abs(pairs[x] - r) <= 1e-4 * Math.Abs(r) + 1e-6, $"ScorePairs ({pu[x]},{pi[x]}): {pairs[x]} vs direct {r}");
            Assert.True(Math.Abs(all[x] - r) <= 1e-4 * Math.Abs(r) + 1e-6, $"ScoreAllItems ({pu[x]},{pi[x]}): {all[x]} vs direct {r}");
            Assert.True(Math.Abs(all[x] - pairs[x]) <= 1e-4 * Math.Abs(pairs[x]) + 1e-6, $"({pu[x]},{pi[x]}): all {all[x]} vs pairs {pairs[x]}");
        }
    }

    [Theory]
    [InlineData(LrmlDistance.SqrtL2)]
    [InlineData(LrmlDistance.L1)]
    public void GroupedAndDirectPairScoringAgree(LrmlDistance dist)
    {
        // user-major pairs (runs ≥ 16 use the blocked path) vs the same pairs interleaved (direct formula)
        var cfg = Config(dist, dim: 19, slots: 7);
        var p = Params(cfg, users: U, items: I);
        using var engine = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 });
        var pu = Enumerable.Range(0, U).SelectMany(u => Enumerable.Repeat(u, I)).ToArray();
        var pi = Enumerable.Range(0, U).SelectMany(_ => Enumerable.Range(0, I)).ToArray();
        var grouped = new float[pu.Length]; engine.ScorePairs(pu, pi, grouped);
        var order = Enumerable.Range(0, I).SelectMany(i => Enumerable.Range(0, U).Select(u => u * I + i)).ToArray();
        var su = order.Select(x => pu[x]).ToArray(); var si = order.Select(x => pi[x]).ToArray();
        var direct = new float[pu.Length]; engine.ScorePairs(su, si, direct);
        for (int x = 0; x < order.Length; x++)
        {
            float g = grouped[order[x]], dd = direct[x];
            Assert.True(Math.Abs(g - dd) <= 1e-4 * Math.Abs(dd) + 1e-6, $"pair ({su[x]},{si[x]}): grouped {g} vs direct {dd}");
        }
        Assert.True(su.Zip(su.Skip(1)).All(t => t.First != t.Second), "interleaved order must have no runs");
    }

    [Fact]
    public void ScoresFollowParameterChangesAfterTraining()
    {
        var cfg = Config(dim: 19, slots: 7);
        var p = Params(cfg, users: U, items: I);
        using var engine = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 });
        var first = new float[I]; engine.ScoreAllItems([4], first);
        engine.TrainStep(Batch(2, users: U, items: I, count: 6));
        var second = new float[I]; engine.ScoreAllItems([4], second);
        var pairs = new float[I]; engine.ScorePairs(Enumerable.Repeat(4, I).ToArray(), Enumerable.Range(0, I).ToArray(), pairs);
        Assert.NotEqual(first, second); // the item-side cache was rebuilt
        for (int i = 0; i < I; i++) Assert.Equal(pairs[i], second[i], 1e-4f * Math.Abs(pairs[i]));
    }

    [Theory]
    [InlineData(NegativeRelation.Reuse, NormConstraint.Clip)]
    [InlineData(NegativeRelation.Recompute, NormConstraint.None)]
    public void ExplainMatchesReferenceAttentionAndRelation(NegativeRelation rel, NormConstraint nc)
    {
        var cfg = Config(rel: rel, nc: nc, dim: 19, slots: 7);
        var p = Params(cfg, users: U, items: I);
        using var engine = new LrmlFused(cfg, p, new FusedOptions { Threads = 2 });
        int[] users = [1, 0, 8, 1]; int[] items = [2, 36, 5, 2];
        var att = new float[users.Length * cfg.Slots]; var rel2 = new float[users.Length * cfg.Dim];
        engine.Explain(users, items, att, rel2);
        var reference = new LrmlScalarReference(cfg, p);
        for (int x = 0; x < users.Length; x++)
        {
            var (a, r) = reference.Explain(users[x], items[x]);
            Close(att.AsSpan(x * cfg.Slots, cfg.Slots), a, 1e-6, 1e-5, "attention");
            Close(rel2.AsSpan(x * cfg.Dim, cfg.Dim), r, 1e-6, 1e-5, "relation");
            Assert.Equal(1.0, att.AsSpan(x * cfg.Slots, cfg.Slots).ToArray().Sum(v => (double)v), 1e-5);
        }
    }

    [Fact]
    public void ScoringRejectsBadArguments()
    {
        var cfg = Config();
        using var engine = Engine(cfg, Params(cfg));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.ScorePairs([0, 5], [0, 0], new float[2]));
        Assert.Throws<ArgumentException>(() => engine.ScorePairs([0, 1], [0], new float[2]));
        Assert.Throws<ArgumentException>(() => engine.ScoreAllItems([0, 1], new float[Items]));
        Assert.Throws<ArgumentOutOfRangeException>(() => engine.ScoreAllItems([-1], new float[Items]));
    }
}
