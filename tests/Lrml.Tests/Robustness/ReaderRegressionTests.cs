using Lrml.Data;
using Lrml.Tests.Data;

namespace Lrml.Tests.Robustness;

/// <summary>Reader bugs found by the robustness work, each pinned by the input that triggered it.</summary>
public class ReaderRegressionTests
{
    private static DataFormatException Fails(Action read) => Assert.Throws<DataFormatException>(read);

    [Theory]
    [InlineData(":::")]            // was ArgumentOutOfRangeException: the first and last "::" overlap
    [InlineData("5:::")]
    [InlineData("5::Title")]
    public void MoviesDatLineWithOverlappingSeparatorsIsAFieldCountError(string line)
    {
        using var t = new TempDir();
        t.File("ratings.dat", "1::5::3::978300760\n");
        t.File("movies.dat", $"1::Toy Story (1995)::Comedy\n{line}\n");
        var e = Fails(() => MovieLens1M.Read(t.Path));
        Assert.Equal(2, e.Line);
        Assert.Contains("field count", e.Reason);
    }

    [Fact]
    public void GenreIndexBeyondAnIntIsAnErrorNotAnOverflow()
    {
        using var t = new TempDir();
        t.File("u.data", "1\t1\t5\t874965758\n");
        t.File("u.genre", "unknown|0\nAction|99999999999\n");       // was OverflowException from checked((int)…)
        var e = Fails(() => MovieLens100K.Read(t.Path));
        Assert.Equal(2, e.Line);
        Assert.Contains("out of range", e.Reason);
    }

    [Fact]
    public void AHugeGenreListCannotBlowTheStack()
    {
        // u.item's field slots are stack-allocated per genre: 100,000 genre lines used to mean a 1.6 MB stackalloc
        using var t = new TempDir();
        t.File("u.data", "1\t1\t5\t874965758\n");
        t.File("u.genre", string.Concat(Enumerable.Range(0, 100_000).Select(k => $"g{k}|{k}\n")));
        t.File("u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|0\n");
        var e = Fails(() => MovieLens100K.Read(t.Path));
        Assert.Equal("u.genre", Path.GetFileName(e.FilePath));
        Assert.Equal(65, e.Line);
    }

    [Fact]
    public void NetflixTitleYearBeyondAnIntIsAnErrorNotAnOverflow()
    {
        using var t = new TempDir();
        t.File("combined_data_1.txt", "1:\n1488844,3,2005-09-06\n");
        t.File("movie_titles.csv", "1,2003,Dinosaur Planet\n2,99999999999,Isle of Man\n");
        var e = Fails(() => NetflixPrize.Read(t.Path));
        Assert.Equal("movie_titles.csv", Path.GetFileName(e.FilePath));
        Assert.Equal(2, e.Line);
        Assert.Contains("year", e.Reason);
    }

    [Fact]
    public void MoviesCsvWithAGiganticTitleIsRefusedLikeEveryOtherReader()
    {
        using var t = new TempDir();
        t.File("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n");
        t.File("movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n2," + new string('x', 1_100_000) + ",Comedy\n");
        var e = Fails(() => MovieLensCsv.Read(t.Path));
        Assert.Equal(3, e.Line);
        Assert.Contains("longer than", e.Reason);
        Assert.True(e.Message.Length < 1000);
    }

    [Fact]
    public void NcfRatingsMustBeNonNegativeAndTheFileMayStartWithABom()
    {
        using var t = new TempDir();
        string ok = t.Bytes("a.rating", [0xEF, 0xBB, 0xBF, .. "0\t1\t5\t100\n"u8.ToArray()]);
        var f = Lrml.Protocols.NcfFiles.ReadRatings(ok, 2, 2);
        Assert.Equal([0], f.Users);
        string neg = t.File("b.rating", "0\t1\t5\t100\n1\t0\t-2\t100\n");
        var e = Fails(() => Lrml.Protocols.NcfFiles.ReadRatings(neg, 2, 2));
        Assert.Equal(2, e.Line);
        Assert.Contains("negative", e.Reason);
    }
}
