using Lrml.Data;

namespace Lrml.Tests.Data;

public class DatasetCardTests
{
    [Fact]
    public void QuantilesInterpolateBetweenOrderStatistics()
    {
        // sorted 1,2,3,4,10 — position q·4: 5% → 0.2 → 1.2; 25% → 1 → 2; 50% → 2 → 3; 75% → 3 → 4; 95% → 3.8 → 4 + 0.8·6 = 8.8
        var s = CountSummary.Of([10, 3, 1, 4, 2]);
        Assert.Equal(1, s.Min);
        Assert.Equal(1.2, s.P5, 12);
        Assert.Equal(2, s.P25, 12);
        Assert.Equal(3, s.Median, 12);
        Assert.Equal(4, s.P75, 12);
        Assert.Equal(8.8, s.P95, 12);
        Assert.Equal(10, s.Max);
        Assert.Equal(4, s.Mean, 12);
        Assert.Equal(2.5, CountSummary.Of([1, 2, 3, 4]).Median, 12);
        Assert.True(double.IsNaN(CountSummary.Of([]).Median));
    }

    [Fact]
    public void CardOfAHandExample()
    {
        // users a..e with 1, 2, 3, 4, 10 interactions over items p, q, r (with one duplicate pair (b, p))
        var users = new IdMap(["a", "b", "c", "d", "e"]);
        var items = new IdMap(["p", "q", "r", "unused"]);
        var u = new List<int>(); var i = new List<int>();
        void Add(int user, params int[] its) { foreach (int x in its) { u.Add(user); i.Add(x); } }
        Add(0, 0); Add(1, 0, 0); Add(2, 0, 1, 2); Add(3, 0, 1, 2, 0); Add(4, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0);
        int n = u.Count;   // 20
        var rating = Enumerable.Range(0, n).Select(k => (float)(1 + k % 2)).ToArray();     // 1,2,1,2,…
        var time = Enumerable.Range(0, n).Select(k => 1_000_000_000L + k * 86_400L).ToArray();
        var cat = new ItemCatalog(["Drama"]);
        cat.Add(new ItemInfo("p", "P (1999)", ["Drama"], 1999));
        var d = new Interactions("hand", u.ToArray(), i.ToArray(), rating, time, users, items, cat);
        var card = DatasetCard.From(d);
        Assert.Equal(5, card.Users);
        Assert.Equal(4, card.Items);
        Assert.Equal(3, card.ActiveItems);
        Assert.Equal(20, card.Interactions);
        Assert.Equal(11, card.DistinctPairs);   // distinct items per user: a 1, b 1 (p twice), c 3, d 3, e 3
        Assert.Equal(20.0 / (5 * 4), card.Density, 12);
        Assert.Equal(CountSummary.Of([1, 2, 3, 4, 10]), card.PerUser);
        Assert.Equal(CountSummary.Of([10, 5, 5, 0]), card.PerItem);   // p: 1+2+1+2+4, q and r: 1+1+3, unused: 0
        Assert.Equal([new KeyValuePair<float, long>(1f, 10), new KeyValuePair<float, long>(2f, 10)], card.RatingHistogram!);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_000_000_000), card.TimeRange!.Value.First);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_000_000_000 + 19 * 86_400), card.TimeRange!.Value.Last);
        Assert.Equal(["ratings", "timestamps", "titles (1)", "genres (1)", "years (1)"], card.SideInformation);
        var rows = card.Rows().ToDictionary(r => r.Key, r => r.Value);
        Assert.Equal("4 (3 with interactions)", rows["items"]);
        Assert.Equal("1: 10, 2: 10", rows["ratings"]);
        Assert.StartsWith("2001-09-09 01:46:40", rows["time range"]);
        string md = card.ToMarkdown();
        Assert.StartsWith("### Dataset card: hand", md);
        Assert.Contains("| per user | min 1, 5% 1.2, 25% 2, median 3, 75% 4, 95% 8.8, max 10, mean 4 |", md);
    }

    [Fact]
    public void CardWithoutSideInformation()
    {
        var d = new Interactions("bare", [0, 1], [0, 0], null, null, new IdMap(["1", "2"]), new IdMap(["9"]));
        var card = DatasetCard.From(d);
        Assert.Null(card.RatingHistogram);
        Assert.Null(card.TimeRange);
        Assert.Empty(card.SideInformation);
        Assert.Equal(1.0, card.Density, 12);
        Assert.DoesNotContain(card.Rows(), r => r.Key == "ratings");
        Assert.Contains("| side information | none |", card.ToMarkdown());
    }

    [Fact]
    public void CountsWithManyDistinctValuesAreSummarisedByQuantilesNotListedAsRatings()
    {
        // 400 listening counts 1..400 on 400 (user, item) pairs: no rating scale has 400 levels
        int n = 400;
        var users = Enumerable.Range(0, n).Select(k => k % 10).ToArray();
        var items = Enumerable.Range(0, n).Select(k => k % 40).ToArray();
        var counts = Enumerable.Range(1, n).Select(k => (float)k).ToArray();
        var d = new Interactions("plays", users, items, counts, null,
            new IdMap(Enumerable.Range(0, 10).Select(k => k.ToString()).ToArray()), new IdMap(Enumerable.Range(0, 40).Select(k => k.ToString()).ToArray()));
        var card = DatasetCard.From(d);
        Assert.Null(card.RatingHistogram);
        Assert.Equal(400, card.DistinctValues);
        // linear quantiles of 1..400: 25 % at position 99.75 → 100.75, median 200.5
        Assert.Equal(100.75, card.ValueSummary!.P25, 9);
        Assert.Equal(200.5, card.ValueSummary.Median, 9);
        Assert.Equal(400, card.ValueSummary.Max);
        var rows = card.Rows().ToDictionary(r => r.Key, r => r.Value);
        Assert.DoesNotContain("ratings", rows.Keys);
        Assert.StartsWith("400 distinct (counts or weights, not a rating scale): min 1, 5% 20.95, 25% 100.75, median 200.5", rows["values"]);
        Assert.Equal("values (400 distinct, not a rating scale)", card.SideInformation[0]);
        Assert.True(card.ToMarkdown().Split('\n').Length < 20, "the card stays a screenful, not one line per distinct value");
    }

    [Fact]
    public void HalfStarRatingsStayAHistogram()
    {
        var values = Enumerable.Range(1, 10).Select(k => k * 0.5f).ToArray();
        var d = new Interactions("half", new int[10], Enumerable.Range(0, 10).ToArray(), values, null, new IdMap(["u"]),
            new IdMap(Enumerable.Range(0, 10).Select(k => k.ToString()).ToArray()));
        var card = DatasetCard.From(d);
        Assert.Equal(10, card.RatingHistogram!.Count);
        Assert.Null(card.ValueSummary);
    }
}
