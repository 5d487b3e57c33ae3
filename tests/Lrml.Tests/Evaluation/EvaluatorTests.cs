using Lrml.Evaluation;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Tests.Evaluation;

/// <summary>A recommender with a fixed score matrix; records how it was called.</summary>
internal sealed class MatrixRecommender(float[,] scores, string name = "fixed") : IRecommender
{
    public string Name => name;
    public int NumUsers => scores.GetLength(0);
    public int NumItems => scores.GetLength(1);
    public int PairCalls, AllItemCalls, MaxUsersPerAllItemsCall, MaxPairsPerCall;
    public readonly HashSet<int> Threads = new();

    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> output)
    {
        PairCalls++; MaxPairsPerCall = Math.Max(MaxPairsPerCall, users.Length);
        lock (Threads) Threads.Add(Environment.CurrentManagedThreadId);
        for (int k = 0; k < users.Length; k++) output[k] = scores[users[k], items[k]];
    }

    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> output)
    {
        AllItemCalls++; MaxUsersPerAllItemsCall = Math.Max(MaxUsersPerAllItemsCall, users.Length);
        lock (Threads) Threads.Add(Environment.CurrentManagedThreadId);
        for (int r = 0; r < users.Length; r++)
            for (int i = 0; i < NumItems; i++) output[r * NumItems + i] = scores[users[r], i];
    }

    public void Dispose() { }
}

public class EvaluatorTests
{
    private const double Tol = 1e-9;

    // 3 users × 8 items.
    // user 0: train {1,3}, validation {7}, test {2}; test negatives {4,5,6}; validation negatives {0,6}
    // user 1: train {2,4}, test {0,7}; test negatives {3,5}
    // user 2: train {0}; nothing held out (never evaluated)
    private static Split HandSplit() => new()
    {
        Dataset = "hand", Protocol = "hand",
        Train = UserItems.FromPairs(3, 8, [0, 0, 1, 1, 2], [1, 3, 2, 4, 0]),
        Validation = UserItems.FromPairs(3, 8, [0], [7]),
        Test = UserItems.FromPairs(3, 8, [0, 1, 1], [2, 0, 7]),
        TestNegatives = UserItems.FromPairs(3, 8, [0, 0, 0, 1, 1], [4, 5, 6, 3, 5]),
        ValidationNegatives = UserItems.FromPairs(3, 8, [0, 0], [0, 6]),
    };

    private static readonly float[,] HandScores =
    {
        //  0     1     2     3     4     5     6     7
        { 0.3f, 0.99f, 0.5f, 0.95f, 0.9f, 0.5f, 0.1f, 0.97f },
        { 1.0f, 0.2f,  0.8f, 0.4f,  0.7f, 0.3f, 0.2f, 0.2f  },
        { 0.1f, 0.2f,  0.3f, 0.4f,  0.5f, 0.6f, 0.7f, 0.8f  },
    };

    private static readonly EvaluationOptions Sampled13 = new() { Mode = CandidateMode.Sampled, Ks = [1, 3] };
    private static readonly EvaluationOptions Full13 = new() { Mode = CandidateMode.Full, Ks = [1, 3] };

    [Fact]
    public void SampledTest_MatchesHandValues()
    {
        // user 0: positive 2 (0.5) vs {0.9, 0.5, 0.1} → rank 3, AUC 1/3
        // user 1: positive 0 (1.0) → rank 1, AUC 1; positive 7 (0.2) vs {0.4, 0.3} → rank 3, AUC 0 → averaged
        using var model = new MatrixRecommender(HandScores);
        var r = Evaluator.Evaluate(model, HandSplit(), EvalTarget.Test, Sampled13);
        Assert.Equal([0, 1], r.Users);
        Assert.Equal(["HR@1", "nDCG@1", "HR@3", "nDCG@3", "MRR", "AUC"], r.MetricNames);
        Assert.Equal([0, 0.5], r.PerUser["HR@1"]);
        Assert.Equal([1, 1], r.PerUser["HR@3"]);
        Assert.Equal(0.5, r.PerUser["nDCG@3"][0], Tol);
        Assert.Equal(0.75, r.PerUser["nDCG@3"][1], Tol);
        Assert.Equal(1.0 / 3, r.PerUser["MRR"][0], Tol);
        Assert.Equal(2.0 / 3, r.PerUser["MRR"][1], Tol);
        Assert.Equal(0.25, r.Metrics["HR@1"], Tol);
        Assert.Equal(0.25, r.Metrics["nDCG@1"], Tol);
        Assert.Equal(1.0, r.Metrics["HR@3"], Tol);
        Assert.Equal(0.625, r.Metrics["nDCG@3"], Tol);
        Assert.Equal(0.5, r.Metrics["MRR"], Tol);
        Assert.Equal(5.0 / 12, r.Metrics["AUC"], Tol);
        Assert.Equal(1, model.PairCalls); // all users' pairs in one batch
        Assert.Contains("HR@3 1.0000", r.Describe());
    }

    [Fact]
    public void FullTest_MatchesHandValues_TrainAndValidationExcluded()
    {
        // user 0: candidates {0,2,4,5,6} (1,3 train; 7 validation); item 2 (0.5) after 4 (0.9) and tied 5 (0.5) → position 3
        // user 1: candidates {0,1,3,5,6,7}; item 0 first; item 7 (0.2) after 3, 5 and the tied 1, 6 → positions 1, 6
        using var model = new MatrixRecommender(HandScores);
        var r = Evaluator.Evaluate(model, HandSplit(), EvalTarget.Test, Full13);
        Assert.Equal([0, 1], r.Users);
        double idcg2at3 = 1 + 1 / Math.Log2(3);
        Assert.Equal([0, 1], r.PerUser["HR@1"]);
        Assert.Equal([1, 1], r.PerUser["HR@3"]);
        Assert.Equal(0.5, r.PerUser["nDCG@3"][0], Tol);
        Assert.Equal(1 / idcg2at3, r.PerUser["nDCG@3"][1], Tol);
        Assert.Equal([1, 0.5], r.PerUser["Recall@3"]);
        Assert.Equal(1.0 / 3, r.PerUser["Precision@3"][0], Tol);
        Assert.Equal(1.0 / 3, r.PerUser["Precision@3"][1], Tol);
        Assert.Equal(1.0 / 3, r.PerUser["MAP@3"][0], Tol);
        Assert.Equal(0.5, r.PerUser["MAP@3"][1], Tol);
        Assert.Equal([0, 1], r.PerUser["Precision@1"]);
        Assert.Equal([0, 0.5], r.PerUser["Recall@1"]);
        Assert.Equal(1.0 / 3, r.PerUser["MRR"][0], Tol);
        Assert.Equal(1.0, r.PerUser["MRR"][1], Tol);
        Assert.Equal(0.5, r.PerUser["AUC"][0], Tol);  // beats 0.3, 0.1 of {0.3, 0.9, 0.5, 0.1}
        Assert.Equal(0.5, r.PerUser["AUC"][1], Tol);  // item 0 beats all 4, item 7 beats none
        Assert.Equal(0.5, r.Metrics["HR@1"], Tol);
        Assert.Equal(0.75, r.Metrics["Recall@3"], Tol);
        Assert.Equal(5.0 / 12, r.Metrics["MAP@3"], Tol);
        Assert.Equal(2.0 / 3, r.Metrics["MRR"], Tol);
    }

    [Fact]
    public void FullValidation_KeepsTestItemsAsCandidates()
    {
        // user 0's validation item 7 (0.97) vs candidates {0, 2, 4, 5, 6}: item 2 (test) stays in the pool.
        // Make item 2 score above item 7: then validation rank is 2, proving the test item was a candidate.
        var scores = (float[,])HandScores.Clone();
        scores[0, 2] = 0.98f;
        using var model = new MatrixRecommender(scores);
        var r = Evaluator.Evaluate(model, HandSplit(), EvalTarget.Validation, Full13);
        Assert.Equal([0], r.Users);
        Assert.Equal(0, r.Metrics["HR@1"]);
        Assert.Equal(0.5, r.Metrics["MRR"], Tol);
        var sampled = Evaluator.Evaluate(model, HandSplit(), EvalTarget.Validation, Sampled13);
        Assert.Equal(1, sampled.Metrics["HR@1"]); // validation negatives {0, 6} both below 0.97
    }

    [Fact]
    public void NaNScoreIsAnErrorNamingTheUser()
    {
        var scores = (float[,])HandScores.Clone();
        scores[1, 5] = float.NaN;
        using var model = new MatrixRecommender(scores, "broken");
        var ex = Assert.Throws<NonFiniteScoreException>(() => Evaluator.Evaluate(model, HandSplit(), EvalTarget.Test, Sampled13));
        Assert.Contains("user 1", ex.Message);
        Assert.Contains("broken", ex.Message);
        ex = Assert.Throws<NonFiniteScoreException>(() => Evaluator.Evaluate(model, HandSplit(), EvalTarget.Test, Full13 with { Threads = 2 }));
        Assert.Contains("user 1", ex.Message);
    }

    [Fact]
    public void MissingNegativesOrLeakyOrMismatchedSplitsAreRejected()
    {
        using var model = new MatrixRecommender(HandScores);
        var noNeg = HandSplit().With();
        var bare = new Split { Dataset = "h", Protocol = "h", Train = noNeg.Train, Validation = noNeg.Validation, Test = noNeg.Test };
        Assert.Contains("no frozen test negatives", Assert.Throws<InvalidOperationException>(() => Evaluator.Evaluate(model, bare, EvalTarget.Test, Sampled13)).Message);
        var leaky = HandSplit().With(train: UserItems.FromPairs(3, 8, [0, 0], [1, 2]));
        Assert.Contains("leaks", Assert.Throws<InvalidOperationException>(() => Evaluator.Evaluate(model, leaky, EvalTarget.Test, Full13)).Message);
        using var small = new MatrixRecommender(new float[3, 5]);
        Assert.Throws<ArgumentException>(() => Evaluator.Evaluate(small, HandSplit(), EvalTarget.Test, Full13));
    }

    private static (Split Split, float[,] Scores) RandomCase(int nu, int ni, long seed)
    {
        var rng = new Rng(seed, "evaluator-test");
        var scores = new float[nu, ni];
        for (int u = 0; u < nu; u++) for (int i = 0; i < ni; i++) scores[u, i] = rng.NextInt(20) / 10f; // many ties
        var tr = new List<(int, int)>(); var va = new List<(int, int)>(); var te = new List<(int, int)>();
        for (int u = 0; u < nu; u++)
        {
            var items = Enumerable.Range(0, ni).ToArray();
            rng.Shuffle(items.AsSpan());
            int nTrain = 1 + rng.NextInt(ni / 2), nVal = rng.NextInt(3), nTest = rng.NextInt(4);
            for (int k = 0; k < nTrain; k++) tr.Add((u, items[k]));
            for (int k = nTrain; k < nTrain + nVal; k++) va.Add((u, items[k]));
            for (int k = nTrain + nVal; k < nTrain + nVal + nTest; k++) te.Add((u, items[k]));
        }
        UserItems Set(List<(int U, int I)> p) => UserItems.FromPairs(nu, ni, p.Select(x => x.U).ToArray(), p.Select(x => x.I).ToArray());
        var split = new Split { Dataset = "rand", Protocol = "rand", Train = Set(tr), Validation = Set(va), Test = Set(te) };
        return (CandidateSampler.WithSampledCandidates(split, 9, seed), scores);
    }

    [Fact]
    public void ChunkingAndThreadsDoNotChangeResults_AndTheModelIsCalledFromOneThread()
    {
        var (split, scores) = RandomCase(57, 41, 3);
        foreach (var mode in new[] { CandidateMode.Sampled, CandidateMode.Full })
            foreach (var target in new[] { EvalTarget.Validation, EvalTarget.Test })
            {
                var big = new EvaluationOptions { Mode = mode, Ks = [1, 5, 10], MemoryBudgetBytes = 1L << 30 };
                using var m1 = new MatrixRecommender(scores);
                var reference = Evaluator.Evaluate(m1, split, target, big);
                Assert.Equal(1, mode == CandidateMode.Full ? m1.AllItemCalls : m1.PairCalls);
                foreach (var (budget, threads) in new[] { (1L, 1), (3L * 41 * 4, 2), (100L, 2) })
                {
                    using var m2 = new MatrixRecommender(scores);
                    var r = Evaluator.Evaluate(m2, split, target, big with { MemoryBudgetBytes = budget, Threads = threads });
                    Assert.Equal(reference.Users, r.Users);
                    foreach (var name in reference.MetricNames) Assert.Equal(reference.PerUser[name], r.PerUser[name]);
                    Assert.Single(m2.Threads);
                    if (mode == CandidateMode.Full) Assert.True(m2.MaxUsersPerAllItemsCall <= Math.Max(1, budget / (41 * 4)));
                    else Assert.True(m2.PairCalls > 1);
                }
            }
    }

    [Fact]
    public void FullModeAgreesWithABruteForceReference()
    {
        var (split, scores) = RandomCase(40, 30, 8);
        using var model = new MatrixRecommender(scores);
        var r = Evaluator.Evaluate(model, split, EvalTarget.Test, new EvaluationOptions { Mode = CandidateMode.Full, Ks = [5] });
        for (int idx = 0; idx < r.Users.Length; idx++)
        {
            int u = r.Users[idx];
            var rel = split.Test[u].ToArray().ToHashSet();
            var ranking = Enumerable.Range(0, 30).Where(i => !split.Train.Contains(u, i) && !split.Validation.Contains(u, i))
                .OrderByDescending(i => scores[u, i]).ThenBy(i => rel.Contains(i) ? 1 : 0).ToArray();
            var top = ranking.Take(5).ToArray();
            int hits = top.Count(rel.Contains);
            double dcg = top.Select((item, j) => rel.Contains(item) ? 1 / Math.Log2(j + 2) : 0).Sum();
            double idcg = Enumerable.Range(0, Math.Min(rel.Count, 5)).Sum(j => 1 / Math.Log2(j + 2));
            double ap = 0; int seen = 0;
            for (int j = 0; j < 5 && j < ranking.Length; j++) if (rel.Contains(ranking[j])) { seen++; ap += (double)seen / (j + 1); }
            ap /= Math.Min(rel.Count, 5);
            int first = Array.FindIndex(ranking, rel.Contains) + 1;
            Assert.Equal(hits > 0 ? 1 : 0, r.PerUser["HR@5"][idx]);
            Assert.Equal((double)hits / rel.Count, r.PerUser["Recall@5"][idx], Tol);
            Assert.Equal(hits / 5.0, r.PerUser["Precision@5"][idx], Tol);
            Assert.Equal(dcg / idcg, r.PerUser["nDCG@5"][idx], Tol);
            Assert.Equal(ap, r.PerUser["MAP@5"][idx], Tol);
            Assert.Equal(1.0 / first, r.PerUser["MRR"][idx], Tol);
        }
        Assert.Equal(split.Test.UsersWithItems(), r.Users.Length);
    }
}
