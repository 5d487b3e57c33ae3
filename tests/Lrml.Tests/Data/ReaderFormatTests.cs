using System.Security.Cryptography;
using System.Text;
using Lrml.Data;

namespace Lrml.Tests.Data;

/// <summary>Each reader on small hand-made files whose every value is known.</summary>
public class ReaderFormatTests
{
    [Fact]
    public void CrlfBomAndBlankLinesAreHandledAndAMissingFinalNewlineIsRefused()
    {
        using var t = new TempDir();
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.ASCII.GetBytes("1::1193::5::978300760\r\n1::661::3::978302109\r\n\r\n2::1193::4.5::978300000")).ToArray();
        string f = t.Bytes("ratings.dat", bytes);
        // the last line has no newline: it cannot be told from a partly written one
        var e = Assert.Throws<DataFormatException>(() => MovieLens1M.Read(t.Path));
        Assert.Equal((Path.GetFullPath(f), 4L), (Path.GetFullPath(e.FilePath), e.Line));
        Assert.Contains("does not end with a newline", e.Reason);
        bytes = [.. bytes, (byte)'\r', (byte)'\n'];
        t.Bytes("ratings.dat", bytes);
        var d = MovieLens1M.Read(t.Path);
        Assert.Equal(3, d.Count);
        Assert.Equal([0, 0, 1], d.User);
        Assert.Equal([0, 1, 0], d.Item);
        Assert.Equal([5f, 3f, 4.5f], d.Rating!);
        Assert.Equal([978300760L, 978302109L, 978300000L], d.Timestamp!);
        Assert.Equal(["1", "2"], d.Users.Raw);
        Assert.Equal(["1193", "661"], d.Items.Raw);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), d.Provenance[ProvenanceKeys.Sha256]);
        Assert.Equal(Path.GetFullPath(f), d.Provenance[ProvenanceKeys.File]);
        Assert.Equal(bytes.Length.ToString(), d.Provenance[ProvenanceKeys.Bytes]);
    }

    [Fact]
    public void Ml1mPrefersRatingsDatAndReadsImplicitFormOtherwise()
    {
        using var t = new TempDir();
        t.File("ratings_implicit.dat", "5::10\n5::11\n6::10\n");
        var implicitOnly = MovieLens1M.Read(t.Path);
        Assert.False(implicitOnly.HasRatings);
        Assert.Equal([0, 1, 0], implicitOnly.Item);
        t.File("ratings.dat", "5::10::4::978300760\n5::11::3::978300761\n6::10::5::978300762\n");   // the same rows, with ratings
        var withRatings = MovieLens1M.Read(t.Path);
        Assert.Equal(3, withRatings.Count);
        Assert.True(withRatings.HasRatings);
        Assert.Equal([4f, 3f, 5f], withRatings.Rating!);
    }

    [Fact]
    public void MoviesDatEncodingIsDetected()
    {
        using var t = new TempDir();
        const string content = "73::Misérables, Les (1995)::Drama|Musical\n3::Über (2009)::IMAX|Drama\n4::Nothing (2010)::(no genres listed)\n";
        string latin = t.Bytes("latin/movies.dat", Encoding.Latin1.GetBytes(content));
        string utf8 = t.Bytes("utf8/movies.dat", Encoding.UTF8.GetBytes(content));
        foreach (var (path, webName) in new[] { (latin, "iso-8859-1"), (utf8, "utf-8") })
        {
            var cat = MovieLens1M.ReadMovies(path, out _, out var enc);
            Assert.Equal(webName, enc.WebName);
            Assert.True(cat.TryGet("73", out var m));
            Assert.Equal("Misérables, Les (1995)", m.Title);
            Assert.Equal(["Drama", "Musical"], m.Genres);
            Assert.True(cat.TryGet("3", out var u));
            Assert.Equal("Über (2009)", u.Title);
            Assert.True(cat.TryGet("4", out var none));
            Assert.Empty(none.Genres);
            Assert.Equal(19, cat.GenreNames.Count);        // the 18 canonical genres + IMAX seen in the file
            Assert.Equal("IMAX", cat.GenreNames[^1]);
        }
    }

    [Fact]
    public void Ml100kWithoutGenreFileUsesDefaultNamesAndReleaseDateYear()
    {
        using var t = new TempDir();
        t.File("u.data", "1\t2\t3\t881250949\n");
        string flags(int on) => string.Join("|", Enumerable.Range(0, 19).Select(g => g == on ? "1" : "0"));
        t.Bytes("u.item", Encoding.Latin1.GetBytes($"2|Café Society|14-Mar-1997||http://x|{flags(5)}\n"));
        var d = MovieLens100K.Read(t.Path);
        Assert.True(d.Catalog!.TryGet("2", out var m));
        Assert.Equal("Café Society", m.Title);
        Assert.Equal(1997, m.Year);                      // no "(year)" in the title: from the release date
        Assert.Equal(["Comedy"], m.Genres);
        Assert.Equal("iso-8859-1", d.Provenance[ProvenanceKeys.ItemsEncoding]);
    }

    [Fact]
    public void MoviesCsvQuotingFollowsRfc4180()
    {
        using var t = new TempDir();
        t.File("ratings.csv", "userId,movieId,rating,timestamp\r\n1,11,3.5,964982703\r\n1,12,0.5,964982704\r\n2,11,5.0,964982705\r\n");
        t.File("movies.csv",
            "movieId,title,genres\n" +
            "11,\"American President, The (1995)\",Comedy|Drama|Romance\n" +
            "12,\"Bird \"\"Yardbird\"\" Parker (1988)\",Drama\n" +
            "13,\"Line\nbreak (2000)\",(no genres listed)\n" +
            "14,Babylon 5,Sci-Fi\n");
        var d = MovieLensCsv.Read(t.Path, "tiny");
        Assert.Equal([3.5f, 0.5f, 5f], d.Rating!);
        var cat = d.Catalog!;
        Assert.Equal(4, cat.Count);
        Assert.Equal("American President, The (1995)", cat.TitleOf("11"));
        Assert.Equal("Bird \"Yardbird\" Parker (1988)", cat.TitleOf("12"));
        Assert.True(cat.TryGet("13", out var lb));
        Assert.Equal("Line\nbreak (2000)", lb.Title);
        Assert.Empty(lb.Genres);
        Assert.True(cat.TryGet("14", out var b5));
        Assert.Null(b5.Year);
        Assert.Equal(["Comedy", "Drama", "Romance", "Sci-Fi"], cat.GenreNames);
    }

    [Fact]
    public void NetflixBothLayoutsGiveTheSameData()
    {
        using var t = new TempDir();
        t.File("folder/training_set/mv_0000001.txt", "1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n");
        t.File("folder/training_set/mv_0000002.txt", "2:\r\n822109,4,2004-02-29\r\n");
        t.Bytes("folder/movie_titles.csv", Encoding.Latin1.GetBytes("1,2003,Dinosaur Planet\n2,NULL,Café, Society, and Friends\n"));
        t.File("kaggle/combined_data_1.txt", "1:\n1488844,3,2005-09-06\n822109,5,2005-05-13\n");
        t.File("kaggle/combined_data_2.txt", "2:\n822109,4,2004-02-29\n");
        var a = NetflixPrize.Read(Path.Combine(t.Path, "folder"));
        var b = NetflixPrize.Read(Path.Combine(t.Path, "kaggle"));
        foreach (var d in new[] { a, b })
        {
            Assert.Equal([0, 1, 1], d.User);
            Assert.Equal([0, 0, 1], d.Item);
            Assert.Equal([3f, 5f, 4f], d.Rating!);
            Assert.Equal(new DateTimeOffset(2005, 9, 6, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), d.Timestamp![0]);
            Assert.Equal(new DateTimeOffset(2004, 2, 29, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), d.Timestamp![2]);
            Assert.Equal(["1488844", "822109"], d.Users.Raw);
            Assert.Equal("2", d.Provenance["files"]);
        }
        Assert.True(a.Catalog!.TryGet("2", out var m2));
        Assert.Equal("Café, Society, and Friends", m2.Title);   // commas in the unquoted title, Latin-1 é
        Assert.Null(m2.Year);
        Assert.Equal((int?)2003, a.Catalog.TryGet("1", out var m1) ? m1.Year : null);
        Assert.Null(b.Catalog);
        // the manifest hash is the sha256 of "sha  name\n" lines in reading order
        string manifest = string.Concat(new[] { "mv_0000001.txt", "mv_0000002.txt" }.Select(n =>
            Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(t.Path, "folder", "training_set", n)))) + "  " + n + "\n"));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(manifest))), a.Provenance[ProvenanceKeys.Sha256]);
    }

    [Fact]
    public void NetflixCombinedFilesAreReadInNumericOrderAndCountedExactly()
    {
        using var t = new TempDir();
        t.File("combined_data_10.txt", "30:\n3,1,2005-01-03\n");
        t.File("combined_data_2.txt", "20:\n2,2,2005-01-02\n21:\n2,3,2005-01-02\n9,3,2005-01-02\n");
        t.File("combined_data_1.txt", "10:\n1,1,2005-01-01\n");
        var files = NetflixPrize.FindFiles(t.Path, out _);
        Assert.Equal(["combined_data_1.txt", "combined_data_2.txt", "combined_data_10.txt"], files.Select(Path.GetFileName));
        Assert.Equal(5, NetflixPrize.CountRecords(files));
        var d = NetflixPrize.ReadFiles(files);
        Assert.Equal(["10", "20", "21", "30"], d.Items.Raw);
        Assert.Equal(5, d.Count);
    }

    [Fact]
    public void NetflixMissingFolderListsWhatWasLookedFor()
    {
        using var t = new TempDir();
        var e = Assert.Throws<DatasetNotFoundException>(() => NetflixPrize.Read(t.Path));
        Assert.Contains("training_set", e.Message);
        Assert.Contains("combined_data_*.txt", e.Message);
        Assert.Contains("no longer distributed", e.Message);
    }

    [Fact]
    public void LastFmReadsWeightsAndArtistNames()
    {
        using var t = new TempDir();
        t.File("user_artists.dat", "userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n3\t51\t228\n");
        t.File("artists.dat", "id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://a\thttp://b\n52\tMorcheeba\thttp://c\thttp://d\n53\tMotörhead\thttp://e\t\n");
        var d = LastFm.Read(t.Path);
        Assert.Equal("lastfm-2k", d.Name);
        Assert.Equal([13883f, 11690f, 228f], d.Rating!);
        Assert.Equal(["51", "52"], d.Items.Raw);
        Assert.Equal("Duran Duran", d.Catalog!.TitleOf("51"));
        Assert.Equal("Motörhead", d.Catalog.TitleOf("53"));
        Assert.Equal(3, d.Catalog.Count);
        var implicitData = Preprocess.ToImplicit(d).Data;
        Assert.Equal(3, implicitData.Count);
    }

    [Fact]
    public void GenericReaderHandlesTextIdsCommentsDatesAndExtraColumns()
    {
        using var t = new TempDir();
        string f = t.File("events.tsv",
            "# exported 2024\n" +
            "when\tuser\titem\tscore\textra\n" +
            "2024-01-02T03:04:05Z\tuser_000639\tThe Dogs D'Amour\t1.5\tx\n" +
            "# a comment in the middle\n" +
            "2024-01-03\tuser_000001\tMotörhead\t2\ty\tz\n" +
            "2024-01-04 00:00:01\tuser_000639\tMotörhead\t1e1\t\n");
        var fmt = new DelimitedFormat
        {
            Separator = "\t", HasHeader = true, CommentPrefix = "#", UserColumn = 1, ItemColumn = 2, RatingColumn = 3,
            TimestampColumn = 0, TimestampFormat = TimestampFormat.Date, UserIds = IdKind.Text, ItemIds = IdKind.Text,
        };
        var d = DelimitedReader.Read(f, fmt, "events");
        Assert.Equal(3, d.Count);
        Assert.Equal(["user_000639", "user_000001"], d.Users.Raw);
        Assert.Equal(["The Dogs D'Amour", "Motörhead"], d.Items.Raw);
        Assert.Equal([0, 1, 0], d.User);
        Assert.Equal([0, 1, 1], d.Item);
        Assert.Equal([1.5f, 2f, 10f], d.Rating!);
        Assert.Equal(new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds(), d.Timestamp![0]);
        Assert.Equal(new DateTimeOffset(2024, 1, 3, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), d.Timestamp![1]);
        Assert.Equal(new DateTimeOffset(2024, 1, 4, 0, 0, 1, TimeSpan.Zero).ToUnixTimeSeconds(), d.Timestamp![2]);
    }

    [Fact]
    public void GenericReaderMillisecondsAndIntegerIdsCanonicalised()
    {
        using var t = new TempDir();
        string f = t.File("x.csv", "007,1,1700000000123\n7,01,1700000001999\n");
        var d = DelimitedReader.Read(f, new DelimitedFormat { TimestampColumn = 2, TimestampFormat = TimestampFormat.UnixMilliseconds });
        Assert.Equal(["7"], d.Users.Raw);                // integer ids: 007 and 7 are the same user
        Assert.Equal(["1"], d.Items.Raw);
        Assert.Equal([1_700_000_000L, 1_700_000_001L], d.Timestamp!);
        Assert.False(d.HasRatings);
    }

    [Fact]
    public void FormatValidationRejectsInconsistentLayouts()
    {
        using var t = new TempDir();
        string f = t.File("x.csv", "1,2\n");
        Assert.Throws<ArgumentException>(() => DelimitedReader.Read(f, new DelimitedFormat { UserColumn = 1, ItemColumn = 1 }));
        Assert.Throws<ArgumentException>(() => DelimitedReader.Read(f, new DelimitedFormat { Separator = "" }));
        Assert.Throws<ArgumentException>(() => DelimitedReader.Read(f, new DelimitedFormat { FieldCount = 2, RatingColumn = 2 }));
    }

    [Theory]
    [InlineData("4", 4f)]
    [InlineData("3.5", 3.5f)]
    [InlineData("0.5", 0.5f)]
    [InlineData(".5", 0.5f)]
    [InlineData("4.", 4f)]
    [InlineData("2.25", 2.25f)]
    [InlineData("1e1", 10f)]
    [InlineData(" 3 ", 3f)]
    public void RatingValuesParse(string text, float expected)
    {
        using var t = new TempDir();
        string f = t.File("r.csv", $"1,2,{text}\n");
        var d = DelimitedReader.Read(f, new DelimitedFormat { RatingColumn = 2 });
        Assert.Equal(expected, d.Rating![0]);
    }

    [Fact]
    public void LineReaderCrossesBufferBoundaries()
    {
        // many lines through a tiny buffer: every line must come out whole and numbered
        var sb = new StringBuilder();
        for (int k = 0; k < 1000; k++) sb.Append(k).Append(k % 3 == 0 ? "\r\n" : "\n");
        using var r = new LineReader(new MemoryStream(Encoding.ASCII.GetBytes(sb.ToString())), "mem", bufferBytes: 7, maxLineBytes: 64);
        int expected = 0;
        while (r.TryReadLine(out var line))
        {
            Assert.Equal(expected.ToString(), Encoding.ASCII.GetString(line));
            Assert.Equal(expected + 1, r.LineNumber);
            expected++;
        }
        Assert.Equal(1000, expected);
    }

    [Fact]
    public void YearFromTitleForms()
    {
        Assert.Equal(1995, TextParse.YearFromTitle("Toy Story (1995)"));
        Assert.Equal(2006, TextParse.YearFromTitle("Some Show (2006–2007)"));
        Assert.Equal(1993, TextParse.YearFromTitle("Metisse (Café au Lait) (1993) "));
        Assert.Null(TextParse.YearFromTitle("Babylon 5"));
        Assert.Null(TextParse.YearFromTitle("Blade Runner (Director's Cut)"));
        Assert.Null(TextParse.YearFromTitle("Numbers (12345)"));
    }

    [Fact]
    public void DaysFromCivilMatchesDateTime()
    {
        foreach (var day in new[] { new DateTime(1970, 1, 1), new DateTime(1999, 12, 31), new DateTime(2000, 2, 29), new DateTime(2005, 9, 6), new DateTime(1900, 3, 1), new DateTime(1969, 7, 20) })
            Assert.Equal((long)(day - DateTime.UnixEpoch).TotalDays, TextParse.DaysFromCivil(day.Year, day.Month, day.Day));
    }
}
