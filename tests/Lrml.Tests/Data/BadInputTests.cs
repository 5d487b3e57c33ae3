using System.Text;
using Lrml.Data;

namespace Lrml.Tests.Data;

/// <summary>Every kind of malformed input gives a DataFormatException naming the file, the 1-based line and a
/// reason with a telling key word — never a silent wrong result or a bare exception from deep inside.</summary>
public class BadInputTests
{
    private static DataFormatException ReadMl1m(TempDir t, string ratings)
    {
        t.File("ratings.dat", ratings);
        return Assert.Throws<DataFormatException>(() => MovieLens1M.Read(t.Path));
    }

    private static void AssertAt(DataFormatException e, string file, long line, params string[] words)
    {
        Assert.Equal(file, Path.GetFileName(e.FilePath));
        Assert.Equal(line, e.Line);
        foreach (var w in words) Assert.Contains(w, e.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(e.FilePath, e.Message);
    }

    [Fact]
    public void EmptyFile()
    {
        using var t = new TempDir();
        AssertAt(ReadMl1m(t, ""), "ratings.dat", 0, "empty");
        t.File("u.data", "\n\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLens100K.Read(t.Path)), "u.data", 0, "empty");
    }

    [Fact]
    public void HeaderOnlyFileHasNoDataLines()
    {
        using var t = new TempDir();
        t.File("ratings.csv", "userId,movieId,rating,timestamp\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLensCsv.Read(t.Path)), "ratings.csv", 0, "no data lines");
    }

    [Fact]
    public void WrongSeparatorSaysWhichWasExpectedAndShowsTheLine()
    {
        using var t = new TempDir();
        var e = ReadMl1m(t, "1::1193::5::978300760\n1\t661\t3\t978302109\n");
        AssertAt(e, "ratings.dat", 2, "wrong separator", "'::'", "TAB", "1\\t661\\t3\\t978302109");
    }

    [Fact]
    public void TruncatedLineIsAWrongFieldCount()
    {
        using var t = new TempDir();
        AssertAt(ReadMl1m(t, "1::1193::5::978300760\n1::661::3::978302109\n1::914::3\n"), "ratings.dat", 3, "field count", "truncated", "1::914::3");
        AssertAt(ReadMl1m(t, "1::1193::5::978300760::extra\n"), "ratings.dat", 1, "too many fields");
    }

    [Fact]
    public void NonNumericIdsAreRejected()
    {
        using var t = new TempDir();
        AssertAt(ReadMl1m(t, "1::1193::5::978300760\n12a::661::3::978302109\n"), "ratings.dat", 2, "user id", "12a", "not numeric");
        AssertAt(ReadMl1m(t, "1::x1::5::978300760\n"), "ratings.dat", 1, "item id", "not numeric");
        AssertAt(ReadMl1m(t, "1::-5::5::978300760\n"), "ratings.dat", 1, "item id", "not numeric");
        AssertAt(ReadMl1m(t, "1::::5::978300760\n"), "ratings.dat", 1, "item id", "empty");
    }

    [Theory]
    [InlineData("NaN", "finite")]
    [InlineData("Infinity", "finite")]
    [InlineData("-1", "negative")]
    [InlineData("five", "not a number")]
    [InlineData("4.5.1", "not a number")]
    [InlineData("", "empty")]
    public void RatingMustBeAFiniteNonNegativeNumber(string rating, string word)
    {
        using var t = new TempDir();
        AssertAt(ReadMl1m(t, $"1::1193::5::978300760\n1::661::{rating}::978302109\n"), "ratings.dat", 2, "rating", word);
    }

    [Theory]
    [InlineData("tomorrow")]
    [InlineData("97830.2109")]
    [InlineData("")]
    public void UnparsableTimestamp(string ts)
    {
        using var t = new TempDir();
        AssertAt(ReadMl1m(t, $"1::1193::5::978300760\n1::661::3::{ts}\n"), "ratings.dat", 2, "timestamp");
    }

    [Theory]
    [InlineData("2005-13-01")]
    [InlineData("2005-02-30")]
    [InlineData("05-09-2005")]
    [InlineData("2005/09/06")]
    public void UnparsableNetflixDate(string date)
    {
        using var t = new TempDir();
        string f = t.File("combined_data_1.txt", $"1:\n1488844,3,2005-09-06\n822109,5,{date}\n");
        AssertAt(Assert.Throws<DataFormatException>(() => NetflixPrize.ReadFiles([f])), "combined_data_1.txt", 3, "date");
    }

    [Fact]
    public void NetflixDataBeforeAnyMovieHeader()
    {
        using var t = new TempDir();
        string f = t.File("combined_data_1.txt", "1488844,3,2005-09-06\n");
        AssertAt(Assert.Throws<DataFormatException>(() => NetflixPrize.ReadFiles([f])), "combined_data_1.txt", 1, "before the first");
    }

    [Fact]
    public void NetflixHeaderMustMatchTheFileName()
    {
        using var t = new TempDir();
        string f = t.File("mv_0000007.txt", "8:\n1488844,3,2005-09-06\n");
        AssertAt(Assert.Throws<DataFormatException>(() => NetflixPrize.ReadFiles([f])), "mv_0000007.txt", 1, "file name says movie 7");
    }

    [Fact]
    public void Latin1BytesWhereUtf8IsRequired()
    {
        using var t = new TempDir();
        // "José" in Latin-1 (0xE9) in a text-id column: the generic reader requires UTF-8 for text ids
        var bytes = Encoding.Latin1.GetBytes("user,item\nalice,x\nJos\u00e9,y\n");
        string f = t.Bytes("plays.csv", bytes);
        var fmt = new DelimitedFormat { Separator = ",", HasHeader = true, UserIds = IdKind.Text, ItemIds = IdKind.Text };
        AssertAt(Assert.Throws<DataFormatException>(() => DelimitedReader.Read(f, fmt)), "plays.csv", 3, "UTF-8", "Latin-1");
    }

    [Fact]
    public void AbsurdlyLongLineIsRefused()
    {
        using var t = new TempDir();
        var sb = new StringBuilder("1::1193::5::978300760\n1::");
        sb.Append('9', 1_200_000);
        string f = t.File("ratings.dat", sb.ToString() + "::5::978300760\n");
        var e = Assert.Throws<DataFormatException>(() => MovieLens1M.Read(t.Path));
        AssertAt(e, "ratings.dat", 2, "longer than");
        Assert.True(e.Message.Length < 1000, "the message must not quote the whole line");
    }

    [Fact]
    public void BinaryAndCompressedFilesAreNamedAsSuch()
    {
        using var t = new TempDir();
        t.Bytes("ratings.dat", [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00]);
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLens1M.Read(t.Path)), "ratings.dat", 1, "ZIP");
        t.Bytes("ratings.dat", [0x1F, 0x8B, 0x08, 0x00, 0x00]);
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLens1M.Read(t.Path)), "ratings.dat", 1, "gzip");
        t.Bytes("ratings.dat", Encoding.ASCII.GetBytes("1::2::3::4\n1::3\0::3::4\n"));
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLens1M.Read(t.Path)), "ratings.dat", 2, "NUL");
        t.Bytes("ratings.dat", [0xFF, 0xFE, (byte)'1', 0, (byte)':', 0]);
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLens1M.Read(t.Path)), "ratings.dat", 1, "UTF-16");
    }

    [Fact]
    public void CsvHeaderIsChecked()
    {
        using var t = new TempDir();
        t.File("ratings.csv", "1,1,4.0,964982703\n1,3,4.0,964981247\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLensCsv.Read(t.Path)), "ratings.csv", 1, "header", "looks like data");
        t.File("ratings.csv", "user,movie,rating,timestamp\n1,1,4.0,964982703\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLensCsv.Read(t.Path)), "ratings.csv", 1, "unexpected header", "userId,movieId");
    }

    [Fact]
    public void GenericReaderWithHeaderRefusesADataFirstLine()
    {
        using var t = new TempDir();
        string f = t.File("x.tsv", "1\t2\n3\t4\n");
        var fmt = new DelimitedFormat { Separator = "\t", HasHeader = true };
        AssertAt(Assert.Throws<DataFormatException>(() => DelimitedReader.Read(f, fmt)), "x.tsv", 1, "expected a header");
    }

    [Fact]
    public void MoviesCsvUnterminatedQuoteAndBadFieldCount()
    {
        using var t = new TempDir();
        t.File("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n");
        t.File("movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n2,\"Jumanji (1995),Adventure\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLensCsv.Read(t.Path)), "movies.csv", 3, "unterminated");
        t.File("movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n11,American President, The (1995),Comedy\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLensCsv.Read(t.Path)), "movies.csv", 3, "field count", "quoted");
        t.File("movies.csv", "movieId,title,genres\n1,\"Toy\" Story,Comedy\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLensCsv.Read(t.Path)), "movies.csv", 2, "after the closing quote");
    }

    [Fact]
    public void ItemFileErrorsNameTheItemFile()
    {
        using var t = new TempDir();
        t.File("u.data", "1\t1\t5\t874965758\n");
        string flags = string.Join("|", Enumerable.Repeat("0", 18));
        t.File("u.item", $"1|Toy Story (1995)|01-Jan-1995||http://x|0|{flags}\n2|GoldenEye (1995)|01-Jan-1995||http://x|2|{flags}\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLens100K.Read(t.Path)), "u.item", 2, "genre flag 1", "0 or 1");
        t.File("u.item", $"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n");
        AssertAt(Assert.Throws<DataFormatException>(() => MovieLens100K.Read(t.Path)), "u.item", 1, "field count", "'|'");
    }

    [Fact]
    public void MissingFilesRaiseDatasetNotFoundNamingThem()
    {
        using var t = new TempDir();
        var e = Assert.Throws<DatasetNotFoundException>(() => MovieLens1M.Read(t.Path));
        Assert.Contains(Path.Combine(t.Path, "ratings.dat"), e.Message);
        Assert.Contains(Path.Combine(t.Path, "ratings_implicit.dat"), e.Message);
        Assert.Contains("fetch.sh ml-1m", e.Message);
    }
}
