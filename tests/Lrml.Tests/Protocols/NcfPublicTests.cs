using System.Diagnostics;
using Lrml.Data;
using Lrml.Protocols;
using static Lrml.Tests.Protocols.ProtocolTestData;

namespace Lrml.Tests.Protocols;

public class NcfPublicTests(ITestOutputHelper output)
{
    // Tiny ML-1M look-alike: UserIDs 1..3, MovieIDs in file order 30, 10, 20, 40, 50 → NCF items 0..4.
    private static Interactions TinyMl1m() => Build("ml-1m", [
        ("1", "30"), ("1", "10"), ("1", "20"), ("2", "10"), ("2", "40"), ("2", "50"), ("2", "30"), ("3", "20"), ("3", "50"), ("3", "40"),
    ]);

    private static string WriteNcf(string testRating, string testNegative, string? trainRating = null)
    {
        string dir = Directory.CreateTempSubdirectory("lrml-ncf").FullName;
        File.WriteAllText(Path.Combine(dir, NcfPublic.TestRatingFile), testRating);
        File.WriteAllText(Path.Combine(dir, NcfPublic.TestNegativeFile), testNegative);
        if (trainRating is not null) File.WriteAllText(Path.Combine(dir, NcfPublic.TrainRatingFile), trainRating);
        return dir;
    }

    // NCF ids: user1→0: items 0(30),1(10),2(20); user2→1: 1,3(40),4(50),0; user3→2: 2,4,3
    private const string TestRating = "0\t2\t5\t100\n1\t0\t4\t200\n2\t3\t3\t300\n";
    // user 0's line lists its positive (2) among the negatives: must be dropped and counted
    private const string TestNegative = "(0,2)\t3\t2\n(1,0)\t2\t2\n(2,3)\t0\t1\n";

    [Fact]
    public void TinyRebuild_IdMapping_TrainIsAllMinusTest_DuplicateNegativeDropped()
    {
        // line 2 of TestNegative lists item 2 twice: repeated negatives are merged and counted
        string dir = WriteNcf(TestRating, TestNegative);
        var data = TinyMl1m();
        var split = NcfPublic.Build(data, dir, new NcfPublicOptions { ExpectedNegativesPerLine = 2, HoldOutValidation = false, SampledNegatives = 0 }, 1);
        Assert.Equal(["30", "10", "20", "40", "50"], split.ItemIds!.Raw);
        Assert.Equal(["1", "2", "3"], split.UserIds!.Raw);
        Assert.Equal([0, 1], split.Train[0].ToArray());
        Assert.Equal([1, 3, 4], split.Train[1].ToArray());
        Assert.Equal([2, 4], split.Train[2].ToArray());
        Assert.Equal(7, split.Train.Count);
        Assert.Equal([2], split.Test[0].ToArray());
        Assert.Equal([3], split.TestNegatives![0].ToArray());
        Assert.Equal([2], split.TestNegatives[1].ToArray());
        Assert.Equal([0, 1], split.TestNegatives[2].ToArray());
        Assert.Equal("1", split.Notes["ncf.duplicate_negatives_dropped"]);
        Assert.Equal("1", split.Notes["ncf.repeated_negatives_merged"]);
        Assert.Equal("0", split.Notes["ncf.interacted_negatives_dropped"]);
        Assert.Equal("7", split.Notes["ncf.train_pairs_published"]);
    }

    [Fact]
    public void TrainFileWhenPresentMustEqualTheRebuild()
    {
        string good = "0\t0\t5\t1\n0\t1\t5\t1\n1\t1\t5\t1\n1\t3\t5\t1\n1\t4\t5\t1\n2\t2\t5\t1\n2\t4\t5\t1\n";
        var split = NcfPublic.Build(TinyMl1m(), WriteNcf(TestRating, TestNegative, good),
            new NcfPublicOptions { ExpectedNegativesPerLine = 2, HoldOutValidation = false, SampledNegatives = 0 }, 1);
        Assert.StartsWith(NcfPublic.TrainRatingFile, split.Notes["ncf.train_source"]);
        string bad = good.Replace("2\t4\t5\t1\n", "");
        var ex = Assert.Throws<DataFormatException>(() => NcfPublic.Build(TinyMl1m(), WriteNcf(TestRating, TestNegative, bad),
            new NcfPublicOptions { ExpectedNegativesPerLine = 2 }, 1));
        Assert.Contains("1 expected pairs are missing", ex.Message);
    }

    [Fact]
    public void ValidationHoldsOutOneTrainingItemPerUser_WithCleanNegatives()
    {
        var split = NcfPublic.Build(TinyMl1m(), WriteNcf(TestRating, TestNegative),
            new NcfPublicOptions { ExpectedNegativesPerLine = 2, SampledNegatives = 1 }, 3);
        Assert.Equal(7, split.Train.Count + split.Validation.Count);
        Assert.Equal(3, split.Validation.Count);
        Assert.False(split.Train.Overlaps(split.Validation));
        AssertNegativesClean(split, split.ValidationNegatives!, split.Validation, 1);
        Assert.Equal([3], split.TestNegatives![0].ToArray()); // published test negatives kept, not re-sampled
    }

    [Theory]
    [InlineData("0\t2\t5\n", NcfPublic.TestRatingFile, 1, "4 tab-separated")]
    [InlineData("0\t2\t5\t100\n7\t0\t4\t200\n", NcfPublic.TestRatingFile, 2, "unknown user id 7")]
    [InlineData("0\t2\t5\t100\n1\t9\t4\t200\n", NcfPublic.TestRatingFile, 2, "unknown item id 9")]
    [InlineData("0\t2\t5\t100\n1\t2\t4\t200\n", NcfPublic.TestRatingFile, 2, "never interacted")]
    [InlineData("0\t2\tfive\t100\n", NcfPublic.TestRatingFile, 1, "not a number")]
    [InlineData("0\t2\t5\t100\n\n1\t0\t4\t200\n", NcfPublic.TestRatingFile, 2, "empty line")]
    public void MalformedTestRatingIsReportedWithFileAndLine(string testRating, string file, int line, string reason)
    {
        var ex = Assert.Throws<DataFormatException>(() => NcfPublic.Build(TinyMl1m(), WriteNcf(testRating, TestNegative),
            new NcfPublicOptions { ExpectedNegativesPerLine = 2 }, 1));
        Assert.EndsWith(file, ex.FilePath);
        Assert.Equal(line, ex.Line);
        Assert.Contains(reason, ex.Reason);
    }

    [Theory]
    [InlineData("(0,2)\t3\t2\n(1,0)\t2\n(2,3)\t0\t1\n", 2, "expected (user,item) and 2 negatives, found 1")]
    [InlineData("(0,2)\t3\t2\n(1,0)\t2\t9\n(2,3)\t0\t1\n", 2, "unknown negative item id 9")]
    [InlineData("(0,2)\t3\t2\n1,0\t2\t2\n(2,3)\t0\t1\n", 2, "(user,item)")]
    [InlineData("(0,2)\t3\t2\n(1,3)\t2\t2\n(2,3)\t0\t1\n", 2, "not a test pair")]
    [InlineData("(0,2)\t3\t2\n(2,3)\t0\t1\n", 0, "no negatives line")]
    public void MalformedTestNegativeIsReportedWithFileAndLine(string testNegative, int line, string reason)
    {
        var ex = Assert.Throws<DataFormatException>(() => NcfPublic.Build(TinyMl1m(), WriteNcf(TestRating, testNegative),
            new NcfPublicOptions { ExpectedNegativesPerLine = 2 }, 1));
        Assert.EndsWith(NcfPublic.TestNegativeFile, ex.FilePath);
        Assert.Equal(line, ex.Line);
        Assert.Contains(reason, ex.Reason);
    }

    /// <summary>The public split holds exactly one test row per user: a second row for a user is an error naming the line.</summary>
    [Fact]
    public void AUserWithTwoTestRowsIsAnErrorNamingFileAndLine()
    {
        const string twoForUser1 = "0\t2\t5\t100\n1\t0\t4\t200\n1\t3\t4\t250\n2\t3\t3\t300\n";
        var ex = Assert.Throws<DataFormatException>(() => NcfPublic.Build(TinyMl1m(), WriteNcf(twoForUser1, TestNegative),
            new NcfPublicOptions { ExpectedNegativesPerLine = 2 }, 1));
        Assert.EndsWith(NcfPublic.TestRatingFile, ex.FilePath);
        Assert.Equal(3, ex.Line);
        Assert.Contains("user 1 has a second test row (the first is line 2)", ex.Reason);
    }

    /// <summary>A test file that lacks users (a truncated or foreign file) is refused rather than evaluated on a subset.</summary>
    [Fact]
    public void ATestFileWithoutSomeUsersIsAnError()
    {
        var ex = Assert.Throws<DataFormatException>(() => NcfPublic.Build(TinyMl1m(),
            WriteNcf("0\t2\t5\t100\n1\t0\t4\t200\n", "(0,2)\t3\t2\n(1,0)\t2\t2\n"), new NcfPublicOptions { ExpectedNegativesPerLine = 2 }, 1));
        Assert.EndsWith(NcfPublic.TestRatingFile, ex.FilePath);
        Assert.Contains("1 of 3 users have no test row (the first is user 2)", ex.Reason);
    }

    [Fact]
    public void RealMl1m_RebuildMatchesThePublishedCounts()
    {
        string root = DataRoot();
        string ratings = Path.Combine(root, "ml-1m", "ratings_implicit.dat"), ncf = Path.Combine(root, "ml-1m", "ncf");
        if (!File.Exists(ratings) || !File.Exists(Path.Combine(ncf, NcfPublic.TestNegativeFile)))
            Assert.Skip($"ml-1m with ncf/ files not found under LRML_DATA_DIR ({root}).");
        var data = ReadMl1mImplicit(ratings);
        var sw = Stopwatch.StartNew();
        var split = NcfPublic.Build(data, ncf, new NcfPublicOptions(), seed: 2018);
        double seconds = sw.Elapsed.TotalSeconds;
        output.WriteLine($"NCF rebuild with validation and its 99 sampled negatives: {seconds:F2} s; {split}");
        foreach (var (k, v) in split.Notes.OrderBy(p => p.Key)) output.WriteLine($"  {k} = {v}");

        Assert.Equal(6040, split.NumUsers);
        Assert.Equal(3706, split.NumItems);
        Assert.Equal(994_169, split.Train.Count + split.Validation.Count);
        Assert.Equal("994169", split.Notes["ncf.train_pairs_published"]);
        Assert.Equal(6040, split.Validation.Count);
        Assert.Equal(6040, split.Test.Count);
        Assert.Equal(6040, split.Test.UsersWithItems());
        Assert.Equal("156", split.Notes["ncf.duplicate_negatives_dropped"]);
        Assert.Equal("0", split.Notes["ncf.interacted_negatives_dropped"]);
        Assert.Equal("0", split.Notes["ncf.repeated_negatives_merged"]);
        Assert.Equal(597_804, split.TestNegatives!.Count);
        Assert.Equal(6040 * 99, split.ValidationNegatives!.Count);
        Assert.Equal(["1193", "661", "914", "3408"], split.ItemIds!.Raw.Take(4).ToArray());
        Assert.False(split.Train.Overlaps(split.Test) || split.Train.Overlaps(split.Validation) || split.Validation.Overlaps(split.Test));

        // every test item is an item the user interacted with; no negative is
        var all = new HashSet<(int, int)>();
        for (int k = 0; k < data.Count; k++)
            all.Add((int.Parse(data.Users[data.User[k]]) - 1, split.ItemIds.IndexOf(data.Items[data.Item[k]])));
        foreach (var p in Pairs(split.Test)) Assert.Contains(p, all);
        foreach (var p in Pairs(split.TestNegatives)) Assert.DoesNotContain(p, all);
        AssertNegativesClean(split, split.ValidationNegatives, split.Validation, 99);

        var noValidation = NcfPublic.Build(data, ncf, new NcfPublicOptions { HoldOutValidation = false }, seed: 2018);
        Assert.Equal(994_169, noValidation.Train.Count);
        Assert.Equal(0, noValidation.Validation.Count);
        Assert.Null(noValidation.ValidationNegatives);
        Assert.True(noValidation.Train.SetEquals(NcfPublic.Difference(noValidation.Train, split.Test)));
    }
}
