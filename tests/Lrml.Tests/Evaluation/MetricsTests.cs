using Lrml.Evaluation;
using Lrml.Util;

namespace Lrml.Tests.Evaluation;

public class MetricsTests
{
    private const double Tol = 1e-12;

    [Fact]
    public void PositiveTiedWithTwoNegativesRanksThird()
    {
        float[] negatives = [0.5f, 0.2f, 0.5f, 0.1f];
        int rank = Metrics.PessimisticRank(0.5f, negatives);
        Assert.Equal(3, rank);
        Assert.Equal(0, Metrics.HitRate(rank, 2));
        Assert.Equal(1, Metrics.HitRate(rank, 3));
        Assert.Equal(0.5, Metrics.Ndcg(rank, 3), Tol);            // 1/log2(4)
        Assert.Equal(0, Metrics.Ndcg(rank, 2));
        Assert.Equal(1.0 / 3, Metrics.ReciprocalRank(rank), Tol);
        Assert.Equal(0.5, Metrics.Auc(0.5f, negatives), Tol);     // 0.2 and 0.1 strictly below; ties are losses
    }

    [Fact]
    public void ConstantScoresGetTheWorstRank_NotALuckyOne()
    {
        var neg = Enumerable.Repeat(0.7f, 99).ToArray();
        Assert.Equal(100, Metrics.PessimisticRank(0.7f, neg));
        Assert.Equal(0, Metrics.Auc(0.7f, neg));
    }

    [Fact]
    public void StrictlyBestPositiveRanksFirst()
    {
        float[] neg = [0.1f, -3f, 0.49f];
        Assert.Equal(1, Metrics.PessimisticRank(0.5f, neg));
        Assert.Equal(1, Metrics.Ndcg(1, 10));
        Assert.Equal(1, Metrics.Auc(0.5f, neg));
        Assert.Equal(1 / Math.Log2(3), Metrics.Ndcg(2, 10), Tol);
    }

    [Fact]
    public void NaNIsRejected()
    {
        Assert.Throws<ArgumentException>(() => Metrics.PessimisticRank(float.NaN, [0.1f]));
        Assert.Throws<ArgumentException>(() => Metrics.PessimisticRank(0.5f, [0.1f, float.NaN]));
        Assert.Throws<ArgumentException>(() => Metrics.Auc(0.5f, [float.NaN]));
        Assert.Throws<ArgumentException>(() => Metrics.RelevantPositions([0.1f, float.NaN, 0.3f], [0]));
    }

    // Six items, scores 0.9, 0.8, 0.8, 0.5, 0.3, 0.1; relevant {1, 4}. Item 1 ties with non-relevant item 2, which
    // goes first (pessimistic): ranking 0, 2, 1*, 3, 4*, 5 → relevant positions 3 and 5.
    private static readonly float[] Six = [0.9f, 0.8f, 0.8f, 0.5f, 0.3f, 0.1f];

    [Fact]
    public void FullRankingSixItemHandExample()
    {
        var pos = Metrics.RelevantPositions(Six, [1, 4]);
        Assert.Equal([3, 5], pos);
        double idcg2 = 1 + 1 / Math.Log2(3);
        // k = 2: no hit
        Assert.Equal(0, Metrics.HitRate(pos, 2));
        Assert.Equal(0, Metrics.Recall(pos, 2, 2));
        Assert.Equal(0, Metrics.Ndcg(pos, 2, 2));
        Assert.Equal(0, Metrics.AveragePrecision(pos, 2, 2));
        // k = 3: one hit at position 3
        Assert.Equal(1, Metrics.HitRate(pos, 3));
        Assert.Equal(0.5, Metrics.Recall(pos, 2, 3), Tol);
        Assert.Equal(1.0 / 3, Metrics.Precision(pos, 3), Tol);
        Assert.Equal(0.5 / idcg2, Metrics.Ndcg(pos, 2, 3), Tol);                 // (1/log2 4) / (1 + 1/log2 3) = 0.306574
        Assert.Equal(0.306573596, Metrics.Ndcg(pos, 2, 3), 1e-8);
        Assert.Equal((1.0 / 3) / 2, Metrics.AveragePrecision(pos, 2, 3), Tol);  // P@3 / min(2, 3)
        // k = 5: both hits
        Assert.Equal(1, Metrics.Recall(pos, 2, 5), Tol);
        Assert.Equal(0.4, Metrics.Precision(pos, 5), Tol);
        Assert.Equal((0.5 + 1 / Math.Log2(6)) / idcg2, Metrics.Ndcg(pos, 2, 5), Tol); // 0.543771
        Assert.Equal((1.0 / 3 + 2.0 / 5) / 2, Metrics.AveragePrecision(pos, 2, 5), Tol);
        // MRR: first relevant at 3; AUC: item 1 beats 2 of 4 non-relevant (0.3, 0.5 below; 0.8 tie is a loss),
        // item 4 beats 1 of 4 (0.1) → (0.5 + 0.25) / 2
        Assert.Equal(1.0 / 3, Metrics.ReciprocalRank(pos), Tol);
        Assert.Equal(0.375, Metrics.Auc(pos, 4), Tol);
        // MAP@1 divides by min(|rel|, k) = 1
        Assert.Equal(0, Metrics.AveragePrecision(pos, 2, 1));
    }

    [Fact]
    public void ExcludedItemsAreNotCandidates()
    {
        // excluding item 0 (a training item) moves both relevant items up by one
        Assert.Equal([2, 4], Metrics.RelevantPositions(Six, [1, 4], [0]));
        // excluding the tied item 2 makes item 1 second
        Assert.Equal([2, 4], Metrics.RelevantPositions(Six, [1, 4], [2]));
        Assert.Throws<ArgumentException>(() => Metrics.RelevantPositions(Six, [4, 1]));
    }

    [Fact]
    public void RelevantItemsTiedWithEachOtherOccupyConsecutivePositions_AfterTiedNonRelevant()
    {
        // scores: rel a=0.5, rel b=0.5, non-rel c=0.5, non-rel d=0.9 → d, c, a, b → positions 3, 4
        Assert.Equal([3, 4], Metrics.RelevantPositions([0.5f, 0.5f, 0.5f, 0.9f], [0, 1]));
        Assert.Equal(1.0, Metrics.AveragePrecision([1, 2], 2, 10), Tol); // perfect ranking
        Assert.Equal(1.0, Metrics.Ndcg([1, 2], 2, 10), Tol);
    }

    [Fact]
    public void CountingAgreesWithSortingOnRandomScores()
    {
        var rng = new Rng(17, "metrics");
        for (int trial = 0; trial < 200; trial++)
        {
            int n = 5 + rng.NextInt(40);
            var scores = new float[n];
            for (int i = 0; i < n; i++) scores[i] = rng.NextInt(8) / 4f; // few distinct values → many ties
            var items = Enumerable.Range(0, n).ToArray();
            rng.Shuffle(items.AsSpan());
            int nr = 1 + rng.NextInt(Math.Min(6, n - 2)), ne = rng.NextInt(3);
            var relevant = items[..nr].Order().ToArray();
            var excluded = items[nr..(nr + ne)].Order().ToArray();
            // reference: sort candidates by score descending, non-relevant first among ties
            var relSet = relevant.ToHashSet();
            var ranking = Enumerable.Range(0, n).Where(i => !excluded.Contains(i))
                .OrderByDescending(i => scores[i]).ThenBy(i => relSet.Contains(i) ? 1 : 0).ToArray();
            var expected = ranking.Select((item, idx) => (item, pos: idx + 1)).Where(t => relSet.Contains(t.item)).Select(t => t.pos).ToArray();
            Assert.Equal(expected, Metrics.RelevantPositions(scores, relevant, excluded));
        }
    }
}
