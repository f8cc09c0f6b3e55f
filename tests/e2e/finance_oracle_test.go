package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"
)

// The analytics oracle: random records, moves (amount, category, kind, currency, day),
// soft deletes and restores go through the API; then every analytics answer, for random
// periods, is compared with a brute-force computation in Go over the raw ledger rows
// (read as superuser). The rollup must never drift from the ledger.
func TestFinanceAnalyticsOracle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pt := e.newProjectTeam(t, "Oracle")
	noise := e.newProjectTeam(t, "Noise") // another tenant writing at the same time
	for _, o := range []string{pt.Org.ID, noise.Org.ID} {
		e.exec(t, `update app.subscriptions set plan_code = 'business' where org_id = $1`, o)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 42))

	cats := map[string][]category{}
	for i, kind := range []string{"income", "income", "income", "expense", "expense"} {
		c := e.createCategory(t, pt, kind, fmt.Sprintf("%s %d", kind, i))
		cats[kind] = append(cats[kind], c)
	}
	noiseCat := e.createCategory(t, noise, "income", "Noise")
	currencies := []string{"EUR", "USD", "JPY"}
	e.exec(t, `insert into app.exchange_rates (org_id, rate_date, from_currency, to_currency, rate) values
	             ($1, '2029-06-01', 'EUR', 'USD', 1.1), ($1, '2030-01-01', 'EUR', 'USD', 1.25),
	             ($1, '2029-06-01', 'JPY', 'USD', 0.0071), ($1, '2030-03-15', 'JPY', 'USD', 0.0068),
	             ($1, '2029-11-20', 'EUR', 'USD', 1.18), ($1, '2030-02-01', 'USD', 'JPY', 149)`, pt.Org.ID)
	start := time.Date(2029, 6, 1, 0, 0, 0, 0, time.UTC)
	randomDay := func() string { return start.AddDate(0, 0, rng.IntN(500)).Format(time.DateOnly) }
	randomAmount := func() string { return fmt.Sprintf("%d.%02d", 1+rng.IntN(5000), rng.IntN(100)) }
	randomRecord := func() map[string]any {
		kind := []string{"income", "expense"}[rng.IntN(2)]
		return recordBody(kind, randomAmount(), currencies[rng.IntN(len(currencies))], cats[kind][rng.IntN(len(cats[kind]))].ID, randomDay())
	}

	var ids []string
	for op := 0; op < 400; op++ {
		switch k := rng.IntN(100); {
		case k < 55 || len(ids) == 0:
			ids = append(ids, e.createRecord(t, pt, randomRecord()).ID)
			if k%5 == 0 {
				e.createRecord(t, noise, recordBody("income", randomAmount(), "EUR", noiseCat.ID, randomDay()))
			}
		case k < 80:
			patch := map[string]any{}
			switch rng.IntN(4) {
			case 0:
				patch["amount"] = randomAmount()
			case 1:
				full := randomRecord() // kind and category together
				patch["kind"], patch["category_id"] = full["kind"], full["category_id"]
			case 2:
				patch["currency"] = currencies[rng.IntN(len(currencies))]
			case 3:
				patch["occurred_on"], patch["amount"] = randomDay(), randomAmount()
			}
			r := e.do(t, http.MethodPatch, pt.financePath("/records/"+ids[rng.IntN(len(ids))]), pt.Owner.Token, patch)
			if r.Status != http.StatusOK && r.Status != http.StatusConflict { // 409: it is deleted
				t.Fatalf("%s", r)
			}
		case k < 92:
			e.do(t, http.MethodDelete, pt.financePath("/records/"+ids[rng.IntN(len(ids))]), pt.Owner.Token, nil).want(t, http.StatusNoContent)
		default:
			e.do(t, http.MethodPost, pt.financePath("/records/"+ids[rng.IntN(len(ids))]+"/restore"), pt.Owner.Token, nil).want(t, http.StatusOK)
		}
	}

	o := e.loadLedger(t, pt.Project.ID, pt.Org.ID)
	daily, err := os.ReadFile("testdata/analytics_daily.sql")
	if err != nil {
		t.Fatal(err)
	}
	e.exec(t, string(daily))
	if n := e.count(t, `select count(*) from app.finance_daily_totals where record_count <= 0`); n != 0 {
		t.Errorf("%d rollup rows with a count of zero or less", n)
	}
	get := func(rest string, v any) {
		t.Helper()
		e.do(t, http.MethodGet, pt.financePath("/analytics/"+rest), pt.Analyst.Token, nil).want(t, http.StatusOK).decode(t, v)
	}
	// The summary of a period in each of bases ("": none), against the daily rollups.
	summariesAsDaily := func(period string, pFrom, pTo any, bases ...string) {
		t.Helper()
		for _, base := range bases {
			var pBase any
			rest := "summary?" + period
			if base != "" {
				pBase, rest = base, rest+"&base="+base
			}
			e.sameAsDaily(t, pt, rest, `select analytics_daily.finance_summary($1, $2, $3, $4)`, pt.Project.ID, pFrom, pTo, pBase)
		}
	}
	for i := 0; i < 25; i++ {
		from, to := randomDay(), randomDay()
		if from > to {
			from, to = to, from
		}
		f, _ := time.Parse(time.DateOnly, from)
		l, _ := time.Parse(time.DateOnly, to)
		switch i % 6 {
		case 1, 4: // whole months only: from the 1st, to the last day of a month
			from = time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
			to = time.Date(l.Year(), l.Month()+1, 0, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		case 2: // almost whole edge months (read as the month minus the days outside)
			from = time.Date(f.Year(), f.Month(), 1+rng.IntN(4), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
			to = time.Date(l.Year(), l.Month()+1, -rng.IntN(4), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		case 3: // within one month, or two next to each other, either way
			m := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, time.UTC)
			from = m.AddDate(0, 0, rng.IntN(5)).Format(time.DateOnly)
			to = m.AddDate(0, 1+rng.IntN(2), -1-rng.IntN(5)).Format(time.DateOnly)
		}
		period := "from=" + from + "&to=" + to
		var pFrom, pTo any = from, to
		if i == 0 {
			from, to, period, pFrom, pTo = "0001-01-01", "9999-12-31", "", nil, nil // all time
		}
		// Byte for byte (as JSON values) the answers of the daily rollups alone, as before
		// the monthly one (testdata/analytics_daily.sql), in every base and kind.
		summariesAsDaily(period, pFrom, pTo, "", "USD", "EUR", "JPY")
		for _, kind := range []string{"", "income", "expense"} {
			var pKind any
			rest := "categories?" + period
			if kind != "" {
				pKind, rest = kind, rest+"&kind="+kind
			}
			e.sameAsDaily(t, pt, rest, `select analytics_daily.finance_category_breakdown($1, $2, $3, $4)`, pt.Project.ID, pFrom, pTo, pKind)
		}
		if i > 0 {
			for _, interval := range []string{"month", "week"} {
				e.sameAsDaily(t, pt, "trends?interval="+interval+"&"+period,
					`select analytics_daily.finance_trends($1, $2, $3, $4)`, pt.Project.ID, interval, pFrom, pTo)
			}
		}

		var s summary
		get("summary?base=USD&"+period, &s)
		if want := o.summary(from, to); !slices.Equal(s.Currencies, want) {
			t.Errorf("summary %s:\n got  %+v\n want %+v", period, s.Currencies, want)
		}
		income, expense := o.inBase(from, to)
		if s.Base == nil || s.Base.Income == nil || *s.Base.Income != income || *s.Base.Expense != expense {
			t.Errorf("summary in USD %s: got %s, want income %s expense %s", period, must(jsonString(s.Base)), income, expense)
		}

		var br struct{ Items []breakdownItem }
		get("categories?"+period, &br)
		if want := o.breakdown(from, to); !sameBreakdown(br.Items, want) {
			t.Errorf("categories %s:\n got  %+v\n want %+v", period, br.Items, want)
		}

		if i > 0 {
			interval := []string{"month", "week"}[i%2]
			var tr struct{ Items []trendItem }
			get("trends?interval="+interval+"&"+period, &tr)
			if want := o.trends(interval, from, to); !slices.Equal(tr.Items, want) {
				t.Errorf("trends %s %s:\n got  %+v\n want %+v", interval, period, tr.Items, want)
			}
		}
	}
	// Open-ended periods: from a day on, or up to a day.
	for i := 0; i < 6; i++ {
		day := randomDay()
		if i%3 == 0 { // a first of month
			day = day[:8] + "01"
		}
		period, pFrom, pTo := "from="+day, any(day), any(nil)
		if i%2 == 1 {
			period, pFrom, pTo = "to="+day, nil, day
		}
		summariesAsDaily(period, pFrom, pTo, "", "USD", "JPY")
		e.sameAsDaily(t, pt, "categories?"+period, `select analytics_daily.finance_category_breakdown($1, $2, $3, null)`, pt.Project.ID, pFrom, pTo)
	}
	// Edge months read as the whole month minus the days outside the period, where a rate
	// is dated inside that month (2029-11-20 EUR→USD, 2030-03-15 JPY→USD: those currencies
	// are read day by day there), within one such month, and over two next to each other.
	for _, p := range [][2]string{{"2029-11-03", "2030-03-28"}, {"2029-11-02", "2029-11-29"},
		{"2030-02-03", "2030-03-30"}, {"2029-10-31", "2029-11-01"}} {
		period := "from=" + p[0] + "&to=" + p[1]
		summariesAsDaily(period, p[0], p[1], "", "USD", "EUR", "JPY")
		e.sameAsDaily(t, pt, "categories?"+period, `select analytics_daily.finance_category_breakdown($1, $2, $3, null)`, pt.Project.ID, p[0], p[1])
		e.sameAsDaily(t, pt, "trends?interval=month&"+period,
			`select analytics_daily.finance_trends($1, $2, $3, $4)`, pt.Project.ID, "month", p[0], p[1])
	}
	// A rate dated just before the period and one inside it: the summary reads each
	// currency's rates from the latest on or before the period's first bucket, so the one
	// before must be found and none inside skipped. EUR→USD changes on 2029-11-20 (the day
	// before the first period, its first day in the second, mid-month before the whole
	// months of the third) and 2030-01-01 (inside each); in JPY, USD is converted at the
	// inverse of JPY→USD until USD→JPY starts on 2030-02-01 (inside the fourth); JPY→USD
	// changes on 2030-03-15, the day before the fifth (from the 16th: its month is read
	// as the month minus its first half, the rate inside that month).
	for _, p := range [][2]string{{"2029-11-21", "2030-01-15"}, {"2029-11-20", "2030-01-01"},
		{"2029-12-01", "2030-02-28"}, {"2030-01-15", "2030-03-14"}, {"2030-03-16", "2030-04-30"}} {
		summariesAsDaily("from="+p[0]+"&to="+p[1], p[0], p[1], "USD", "EUR", "JPY")
		var s summary
		get("summary?base=USD&from="+p[0]+"&to="+p[1], &s)
		income, expense := o.inBase(p[0], p[1])
		if s.Base == nil || s.Base.Income == nil || *s.Base.Income != income || *s.Base.Expense != expense {
			t.Errorf("summary in USD %s..%s: got %s, want income %s expense %s", p[0], p[1], must(jsonString(s.Base)), income, expense)
		}
	}
	var recent struct{ Items []record }
	get("recent?limit=10", &recent)
	var got []string
	for _, r := range recent.Items {
		got = append(got, r.ID)
	}
	if want := o.recent(10); !slices.Equal(got, want) {
		t.Errorf("recent = %v, want %v", got, want)
	}
}

// sameAsDaily fails t unless GET …/analytics/<rest> (as the project's analyst) answers
// what query (a function of testdata/analytics_daily.sql, run as the superuser in the
// project's organization) does, compared as JSON values.
func (e *env) sameAsDaily(t *testing.T, pt *projectTeam, rest, query string, args ...any) {
	t.Helper()
	got := e.do(t, http.MethodGet, pt.financePath("/analytics/"+rest), pt.Analyst.Token, nil).want(t, http.StatusOK)
	ctx := context.Background()
	tx, err := e.admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	var want []byte
	if _, err := tx.Exec(ctx, `select set_config('app.org_id', $1, true)`, pt.Org.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, query, args...).Scan(&want); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	var g, w any
	if err := json.Unmarshal(got.Body, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s differs from the daily rollups':\n monthly %s\n daily   %s", rest, got.Body, want)
	}
}

// ledgerRow is a raw live row, amount in cents.
type ledgerRow struct {
	id, kind, currency, category, day string
	cents                             int64
}

type ledgerOracle struct {
	rows  []ledgerRow // live rows only
	names map[string]string
	rates []rateRow
}

type rateRow struct {
	from, day string
	rate      *big.Rat
}

func (e *env) loadLedger(t *testing.T, projectID, orgID string) *ledgerOracle {
	t.Helper()
	ctx := context.Background()
	o := &ledgerOracle{names: map[string]string{}}
	rows, err := e.admin.Query(ctx, `select id::text, kind::text, currency, category_id::text, occurred_on::text, (amount * 100)::bigint
	                                   from app.financial_records where project_id = $1 and deleted_at is null`, projectID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r ledgerRow
		if err := rows.Scan(&r.id, &r.kind, &r.currency, &r.category, &r.day, &r.cents); err != nil {
			t.Fatal(err)
		}
		o.rows = append(o.rows, r)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, err = e.admin.Query(ctx, `select id::text, name from app.finance_categories where project_id = $1`, projectID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		o.names[id] = name
	}
	rows, err = e.admin.Query(ctx, `select from_currency, rate_date::text, rate::text from app.exchange_rates
	                                 where org_id = $1 and to_currency = 'USD' order by rate_date`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r rateRow
		var rate string
		if err := rows.Scan(&r.from, &r.day, &rate); err != nil {
			t.Fatal(err)
		}
		r.rate, _ = new(big.Rat).SetString(rate)
		o.rates = append(o.rates, r)
	}
	t.Logf("oracle: %d live records", len(o.rows))
	return o
}

func (o *ledgerOracle) in(from, to string) []ledgerRow {
	var out []ledgerRow
	for _, r := range o.rows {
		if r.day >= from && r.day <= to {
			out = append(out, r)
		}
	}
	return out
}

func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

func (o *ledgerOracle) summary(from, to string) []currencyTotals {
	by := map[string]*currencyTotals{}
	inc, exp := map[string]int64{}, map[string]int64{}
	for _, r := range o.in(from, to) {
		c := by[r.currency]
		if c == nil {
			c = &currencyTotals{Currency: r.currency}
			by[r.currency] = c
		}
		c.Count++
		if r.kind == "income" {
			c.IncomeCount++
			inc[r.currency] += r.cents
		} else {
			c.ExpenseCount++
			exp[r.currency] += r.cents
		}
	}
	var out []currencyTotals
	for cur, c := range by {
		c.Income, c.Expense, c.Net = money(inc[cur]), money(exp[cur]), money(inc[cur]-exp[cur])
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// inBase converts each row at the latest USD rate on or before its day, rounding the
// sums (not the rows) half away from zero to cents, as PostgreSQL's round(numeric) does.
func (o *ledgerOracle) inBase(from, to string) (income, expense string) {
	sums := map[string]*big.Rat{"income": new(big.Rat), "expense": new(big.Rat)}
	for _, r := range o.in(from, to) {
		rate := big.NewRat(1, 1)
		if r.currency != "USD" {
			rate = nil
			for _, x := range o.rates {
				if x.from == r.currency && x.day <= r.day {
					rate = x.rate
				}
			}
		}
		v := new(big.Rat).Mul(big.NewRat(r.cents, 100), rate)
		sums[r.kind].Add(sums[r.kind], v)
	}
	return roundCents(sums["income"]), roundCents(sums["expense"])
}

func roundCents(x *big.Rat) string {
	c := new(big.Rat).Mul(x, big.NewRat(100, 1))
	q, m := new(big.Int).QuoRem(c.Num(), c.Denom(), new(big.Int))
	if new(big.Int).Mul(m, big.NewInt(2)).CmpAbs(c.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(c.Sign())))
	}
	return money(q.Int64())
}

func (o *ledgerOracle) breakdown(from, to string) []breakdownItem {
	type key struct{ kind, currency, category string }
	totals, counts := map[key]int64{}, map[key]int{}
	kindTotals := map[[2]string]int64{}
	for _, r := range o.in(from, to) {
		k := key{r.kind, r.currency, r.category}
		totals[k] += r.cents
		counts[k]++
		kindTotals[[2]string{r.kind, r.currency}] += r.cents
	}
	var out []breakdownItem
	for k, total := range totals {
		share := new(big.Rat).SetFrac64(total, kindTotals[[2]string{k.kind, k.currency}])
		s := share.FloatString(4) // FloatString rounds half away from zero, like round(numeric, 4)
		out = append(out, breakdownItem{CategoryID: k.category, Name: o.names[k.category], Kind: k.kind,
			Currency: k.currency, Total: money(total), Count: counts[k], Share: &s})
	}
	return out
}

func sameBreakdown(got, want []breakdownItem) bool {
	norm := func(items []breakdownItem) []string {
		var out []string
		for _, it := range items {
			share := "<nil>"
			if it.Share != nil {
				share = *it.Share
			}
			out = append(out, fmt.Sprintf("%s %s %s %s %s %d %s", it.Kind, it.Currency, it.CategoryID, it.Name, it.Total, it.Count, share))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(got), norm(want))
}

func periodStart(interval string, day time.Time) time.Time {
	if interval == "month" {
		return time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // the Monday of its ISO week
}

func (o *ledgerOracle) trends(interval, from, to string) []trendItem {
	rows := o.in(from, to)
	curSet := map[string]bool{}
	type key struct{ period, currency string }
	inc, exp, n := map[key]int64{}, map[key]int64{}, map[key]int{}
	for _, r := range rows {
		curSet[r.currency] = true
		d, _ := time.Parse(time.DateOnly, r.day)
		k := key{periodStart(interval, d).Format(time.DateOnly), r.currency}
		n[k]++
		if r.kind == "income" {
			inc[k] += r.cents
		} else {
			exp[k] += r.cents
		}
	}
	curs := slices.Sorted(func(yield func(string) bool) {
		for c := range curSet {
			if !yield(c) {
				return
			}
		}
	})
	f, _ := time.Parse(time.DateOnly, from)
	l, _ := time.Parse(time.DateOnly, to)
	var out []trendItem
	for p := periodStart(interval, f); !p.After(l); {
		for _, c := range curs {
			k := key{p.Format(time.DateOnly), c}
			out = append(out, trendItem{k.period, c, money(inc[k]), money(exp[k]), money(inc[k] - exp[k]), n[k]})
		}
		if interval == "month" {
			p = p.AddDate(0, 1, 0)
		} else {
			p = p.AddDate(0, 0, 7)
		}
	}
	return out
}

func (o *ledgerOracle) recent(limit int) []string {
	rows := slices.Clone(o.rows)
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].day != rows[j].day {
			return rows[i].day > rows[j].day
		}
		return rows[i].id > rows[j].id
	})
	var out []string
	for i := 0; i < len(rows) && i < limit; i++ {
		out = append(out, rows[i].id)
	}
	return out
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
