using Lrml.Data;
using Lrml.Protocols;
using static Lrml.Tests.Protocols.ProtocolTestData;

namespace Lrml.Tests.Protocols;

public class LeaveLastOutTests
{
    [Fact]
    public void HandExample_LatestIsTest_SecondLatestIsValidation_TiesByFileOrder_SmallUsers()
    {
        // user a: items x(t=5), y(t=9), z(t=9), w(t=1) → chronological w, x, y, z (y and z tie; z is later in the file)
        // user b: single item → train only; user c: two items → test only; user d: repeated pair p(t=2), p(t=8), q(t=4)
        var rows = new List<(string, string)> { ("a", "x"), ("a", "y"), ("b", "x"), ("a", "z"), ("c", "x"), ("c", "y"), ("a", "w"),
            ("d", "p"), ("d", "p"), ("d", "q") };
        long[] ts = [5, 9, 3, 9, 1, 2, 1, 2, 8, 4];
        var data = Build("hand", rows, ts);
        var split = LeaveLastOut.Build(data, new LeaveLastOutOptions { SampledNegatives = 0 }, seed: 1);
        int A = data.Users.IndexOf("a"), B = data.Users.IndexOf("b"), C = data.Users.IndexOf("c"), D = data.Users.IndexOf("d");
        int x = data.Items.IndexOf("x"), y = data.Items.IndexOf("y"), z = data.Items.IndexOf("z"), w = data.Items.IndexOf("w");
        int p = data.Items.IndexOf("p"), q = data.Items.IndexOf("q");
        Assert.Equal([z], split.Test[A].ToArray());
        Assert.Equal([y], split.Validation[A].ToArray());
        Assert.Equal(new[] { x, w }.Order().ToArray(), split.Train[A].ToArray());
        Assert.Equal([x], split.Train[B].ToArray());
        Assert.Equal(0, split.Test.CountOf(B));
        Assert.Equal([y], split.Test[C].ToArray());
        Assert.Equal([x], split.Train[C].ToArray());
        Assert.Equal(0, split.Validation.CountOf(C));
        // d: p's earliest occurrence (t=2) is before q (t=4), so q is the latest distinct pair; p at t=8 is merged.
        Assert.Equal([q], split.Test[D].ToArray());
        Assert.Equal(0, split.Validation.CountOf(D)); // two distinct items only
        Assert.Equal("1", split.Notes["leave-last-out.users_train_only"]);
        Assert.Equal("2", split.Notes["leave-last-out.users_without_validation"]);
        Assert.Equal("1", split.Notes["duplicate_pairs_merged"]);
        Assert.Null(split.TestNegatives);
        AssertPartition(data, split);
    }

    [Fact]
    public void RandomData_Invariants_OneLatestTestPerUser_ValidationNotAfterTest_TrainNotAfterValidation()
    {
        var data = ProtocolTestData.Random(numUsers: 60, numItems: 50, maxPerUser: 25, seed: 3);
        var split = LeaveLastOut.Build(data, new LeaveLastOutOptions { SampledNegatives = 10 }, seed: 5);
        AssertPartition(data, split);
        var times = PairTimes(data);
        var distinct = DistinctPairs(data);
        for (int u = 0; u < data.NumUsers; u++)
        {
            int n = distinct.Count(pr => pr.Item1 == u);
            Assert.Equal(n >= 2 ? 1 : 0, split.Test.CountOf(u));
            Assert.Equal(n >= 3 ? 1 : 0, split.Validation.CountOf(u));
            if (n < 2) continue;
            long tTest = times[(u, split.Test[u][0])];
            long tVal = n >= 3 ? times[(u, split.Validation[u][0])] : tTest;
            Assert.True(tVal <= tTest);
            foreach (int i in split.Train[u]) Assert.True(times[(u, i)] <= tVal, $"user {u}: train item later than held-out");
        }
        AssertNegativesClean(split, split.TestNegatives!, split.Test, 10);
        AssertNegativesClean(split, split.ValidationNegatives!, split.Validation, 10);
    }

    [Fact]
    public void NoTimestamps_FailsClearly_UnlessFileOrderIsAllowed()
    {
        var data = ProtocolTestData.Random(10, 20, 8, seed: 1, withTimestamps: false);
        var ex = Assert.Throws<ArgumentException>(() => LeaveLastOut.Build(data, 1));
        Assert.Contains("timestamps", ex.Message);
        var split = LeaveLastOut.Build(data, new LeaveLastOutOptions { FileOrderWhenNoTimestamps = true, SampledNegatives = 0 }, 1);
        AssertPartition(data, split);
        // with file order, the test item is the last distinct item of the user in the file
        for (int u = 0; u < data.NumUsers; u++)
        {
            if (split.Test.CountOf(u) == 0) continue;
            int last = -1; var seen = new HashSet<int>();
            for (int k = 0; k < data.Count; k++) if (data.User[k] == u && seen.Add(data.Item[k])) last = data.Item[k];
            Assert.Equal(last, split.Test[u][0]);
        }
    }

    [Fact]
    public void RealMl100k_EveryUserHasOneLatestTestItem()
    {
        string path = Path.Combine(DataRoot(), "ml-100k", "u.data");
        if (!File.Exists(path)) Assert.Skip($"ml-100k not found under LRML_DATA_DIR ({path}).");
        var data = ReadMl100k(path);
        var split = LeaveLastOut.Build(data, new LeaveLastOutOptions { SampledNegatives = 99 }, seed: 7);
        Assert.Equal(943, split.Test.Count);            // every ML-100K user has ≥ 20 ratings
        Assert.Equal(943, split.Validation.Count);
        Assert.Equal(100_000 - 2 * 943, split.Train.Count);
        AssertPartition(data, split);
        var times = PairTimes(data);
        for (int u = 0; u < split.NumUsers; u++)
        {
            long tTest = times[(u, split.Test[u][0])], tVal = times[(u, split.Validation[u][0])];
            Assert.True(tVal <= tTest);
            foreach (int i in split.Train[u]) Assert.True(times[(u, i)] <= tVal);
        }
        Assert.Equal(943 * 99, split.TestNegatives!.Count);
    }
}

public class RandomLeaveOneOutTests
{
    [Fact]
    public void OneRandomTestAndValidationPerUser_SeededAndReproducible()
    {
        var data = ProtocolTestData.Random(80, 40, 20, seed: 11, withTimestamps: false);
        var s1 = RandomLeaveOneOut.Build(data, new RandomLeaveOneOutOptions { SampledNegatives = 5 }, seed: 3);
        var s2 = RandomLeaveOneOut.Build(data, new RandomLeaveOneOutOptions { SampledNegatives = 5 }, seed: 3);
        var s3 = RandomLeaveOneOut.Build(data, new RandomLeaveOneOutOptions { SampledNegatives = 5 }, seed: 4);
        AssertPartition(data, s1);
        Assert.True(s1.Test.SetEquals(s2.Test) && s1.Validation.SetEquals(s2.Validation) && s1.TestNegatives!.SetEquals(s2.TestNegatives!));
        Assert.False(s1.Test.SetEquals(s3.Test));
        var distinct = DistinctPairs(data);
        for (int u = 0; u < data.NumUsers; u++)
        {
            int n = distinct.Count(p => p.Item1 == u);
            Assert.Equal(n >= 2 ? 1 : 0, s1.Test.CountOf(u));
            Assert.Equal(n >= 3 ? 1 : 0, s1.Validation.CountOf(u));
        }
        AssertNegativesClean(s1, s1.TestNegatives!, s1.Test, 5);
    }

    [Fact]
    public void HeldOutItemIsRoughlyUniformOverTheUsersItems()
    {
        // one user with 4 items, many seeds: each item should be the test item ≈ 1/4 of the time
        var data = FromIndices("u", 1, 4, [0, 0, 0, 0], [0, 1, 2, 3], null);
        var counts = new int[4];
        for (int seed = 0; seed < 4000; seed++)
            counts[RandomLeaveOneOut.Build(data, new RandomLeaveOneOutOptions { SampledNegatives = 0, HoldOutValidation = false }, seed).Test[0][0]]++;
        foreach (int c in counts) Assert.InRange(c, 880, 1120); // 1000 ± ~4.4σ
    }
}

public class RatioSplitTests
{
    [Fact]
    public void PerUser_CountsFollowRatios_AndEveryUserKeepsATrainingItem()
    {
        var data = ProtocolTestData.Random(50, 200, 40, seed: 2, withTimestamps: false);
        var split = RatioSplit.Build(data, new RatioSplitOptions { SampledNegatives = 0 }, seed: 9);
        AssertPartition(data, split);
        var distinct = DistinctPairs(data);
        for (int u = 0; u < data.NumUsers; u++)
        {
            int n = distinct.Count(p => p.Item1 == u);
            if (n == 0) continue;
            int nt = RatioSplit.RoundHalfUp(n * 0.1), nv = RatioSplit.RoundHalfUp(n * 0.1);
            while (nt + nv > n - 1) { if (nv > 0) nv--; else nt--; }
            Assert.Equal(nt, split.Test.CountOf(u));
            Assert.Equal(nv, split.Validation.CountOf(u));
            Assert.True(split.Train.CountOf(u) >= 1);
        }
        var again = RatioSplit.Build(data, new RatioSplitOptions { SampledNegatives = 0 }, seed: 9);
        Assert.True(split.Test.SetEquals(again.Test));
        Assert.False(split.Test.SetEquals(RatioSplit.Build(data, new RatioSplitOptions { SampledNegatives = 0 }, seed: 10).Test));
    }

    [Fact]
    public void Global_CutsAllPairsByRatio_AndCountsColdPairs()
    {
        var data = ProtocolTestData.Random(50, 200, 40, seed: 2, withTimestamps: false);
        int n = DistinctPairs(data).Count;
        var split = RatioSplit.Build(data, new RatioSplitOptions { Global = true, TrainRatio = 0.7, ValidationRatio = 0.1, TestRatio = 0.2, SampledNegatives = 0 }, seed: 1);
        AssertPartition(data, split);
        Assert.Equal(RatioSplit.RoundHalfUp(n * 0.2), split.Test.Count);
        Assert.Equal(RatioSplit.RoundHalfUp(n * 0.1), split.Validation.Count);
        Assert.Equal("global", split.Notes["ratio.mode"]);
        Assert.True(split.Notes.ContainsKey("ratio.cold_test_pairs_item_not_in_train"));
    }

    [Fact]
    public void BadRatiosAreRejected()
    {
        var data = ProtocolTestData.Random(5, 5, 3, seed: 2);
        Assert.Throws<ArgumentException>(() => RatioSplit.Build(data, new RatioSplitOptions { TrainRatio = 0.8, ValidationRatio = 0.2, TestRatio = 0.2 }, 1));
    }
}

public class GlobalTemporalTests
{
    [Fact]
    public void OneCutForAllUsers_NothingHeldOutIsEarlierThanTheCut_ColdPairsDroppedAndCounted()
    {
        var data = ProtocolTestData.Random(60, 80, 30, seed: 21);
        var split = GlobalTemporal.Build(data, new GlobalTemporalOptions { SampledNegatives = 0 }, seed: 0);
        AssertPartition(data, split, mayDrop: true);
        var times = PairTimes(data);
        long t1 = long.Parse(split.Notes["global-temporal.t1"]), t2 = long.Parse(split.Notes["global-temporal.t2"]);
        Assert.True(t1 <= t2);
        foreach (var p in Pairs(split.Train)) Assert.True(times[p] < t1);
        foreach (var p in Pairs(split.Validation)) Assert.InRange(times[p], t1, t2 - 1);
        foreach (var p in Pairs(split.Test)) Assert.True(times[p] >= t2);
        // held-out pairs are warm: user and item both occur in train
        var trainUsers = Pairs(split.Train).Select(p => p.User).ToHashSet();
        var trainItems = Pairs(split.Train).Select(p => p.Item).ToHashSet();
        foreach (var p in Pairs(split.Validation).Concat(Pairs(split.Test)))
            Assert.True(trainUsers.Contains(p.User) && trainItems.Contains(p.Item));
        // dropped = distinct pairs at/after t1 that are cold
        int expectedDroppedTest = times.Count(kv => kv.Value >= t2 && !(trainUsers.Contains(kv.Key.Item1) && trainItems.Contains(kv.Key.Item2)));
        int expectedDroppedVal = times.Count(kv => kv.Value >= t1 && kv.Value < t2 && !(trainUsers.Contains(kv.Key.Item1) && trainItems.Contains(kv.Key.Item2)));
        Assert.Equal(expectedDroppedTest.ToString(), split.Notes["global-temporal.test_dropped_cold"]);
        Assert.Equal(expectedDroppedVal.ToString(), split.Notes["global-temporal.validation_dropped_cold"]);
        Assert.Equal(times.Count, split.Train.Count + split.Validation.Count + split.Test.Count + expectedDroppedTest + expectedDroppedVal);
        // t1 is the 80% quantile of the pair times
        var sorted = times.Values.Order().ToArray();
        Assert.Equal(sorted[(int)Math.Floor(sorted.Length * 0.8)], t1);
    }

    [Fact]
    public void HandExample_CutsAtQuantiles()
    {
        // 10 pairs at times 1..10 for 2 users over 6 items: t1 = time of pair 8 = 9, t2 = time of pair 9 = 10
        int[] users = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
        int[] items = [0, 1, 2, 3, 4, 5, 1, 0, 3, 2];
        long[] ts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        var data = FromIndices("hand", 2, 6, users, items, ts);
        var split = GlobalTemporal.Build(data, new GlobalTemporalOptions { SampledNegatives = 0 }, 0);
        Assert.Equal("9", split.Notes["global-temporal.t1"]);
        Assert.Equal("10", split.Notes["global-temporal.t2"]);
        Assert.Equal(8, split.Train.Count);
        Assert.Equal([3], split.Validation[0].ToArray());
        Assert.Equal([2], split.Test[1].ToArray());
    }
}

public class SplitFactoryTests
{
    [Fact]
    public void EveryNamedProtocolBuildsAPartition_AndUnknownNamesAreRejected()
    {
        var data = ProtocolTestData.Random(30, 25, 12, seed: 4);
        foreach (var name in SplitFactory.Protocols.Where(p => p != NcfPublic.ProtocolName))
        {
            var split = SplitFactory.Build(name, data, seed: 1, sampledNegatives: 5);
            Assert.Equal(name, split.Protocol);
            AssertPartition(data, split, mayDrop: name == GlobalTemporal.ProtocolName);
            Assert.NotNull(split.TestNegatives);
        }
        Assert.Contains("Known:", Assert.Throws<ArgumentException>(() => SplitFactory.Build("bogus", data, 1)).Message);
        Assert.Throws<ArgumentException>(() => SplitFactory.Build(NcfPublic.ProtocolName, data, 1));
    }
}
